#!/usr/bin/env python3
"""A small coding agent speaking the Agent Client Protocol, for kiro-llm's tests.

It is written from the protocol's specification (JSON-RPC 2.0, one message per
line on stdin/stdout; initialize, session/new, session/prompt, session/update,
fs/*, terminal/*, session/request_permission, session/cancel), not from kiro's
implementation, so the tests check kiro against the protocol.

With ACP_USAGE=input,output the answer to session/prompt carries a usage
report. The scenario comes from the ACP_SCENARIO environment variable:

  done                 read README.md (line 2), ask permission to edit, write
                       src/out.txt, run `echo` in a terminal, stream chunks,
                       end the turn; any surprise ends the turn with "refusal"
  escape               try to write and read outside the writable set and
                       outside the repository; report each error it gets
  command-denied       try to run `rm -rf src` and a program written into the
                       repository; report the errors
  permission-rejected  ask permission to edit Cargo.toml and to run `rm -rf /`;
                       report the options kiro picked
  refusal              end the turn with stopReason "refusal"
  crash                exit with code 3 in the middle of the turn
  malformed            write a line that is not JSON in the middle of the turn
  big-read             read README.md whole; report the error it gets
  flood                write 100000 bytes without a line break, then wait
  many-requests        run `sleep 3` and send 20 terminal/wait_for_exit at once;
                       report how many got the exit and how many were refused
  cooperative          wait for session/cancel, then ask a permission (writing
                       the answer to ACP_PID_FILE.received) and end the turn
                       with "cancelled"
  hang                 start `sleep 300`, then never end the turn, ignoring
                       session/cancel; writes its own and the helper's process
                       ids to ACP_PID_FILE first, and every message it
                       receives after the prompt to ACP_PID_FILE.received
"""

import json
import os
import subprocess
import sys
import time

SCENARIO = os.environ.get("ACP_SCENARIO", "done")
next_id = 0


def send(message):
    sys.stdout.write(json.dumps(message) + "\n")
    sys.stdout.flush()


def receive():
    line = sys.stdin.readline()
    if not line:
        sys.exit(0)
    return json.loads(line)


def call(method, params):
    """Sends a request and returns the response object (with result or error)."""
    global next_id
    next_id += 1
    request_id = "agent-%d" % next_id
    send({"jsonrpc": "2.0", "id": request_id, "method": method, "params": params})
    while True:
        message = receive()
        if message.get("id") == request_id and "method" not in message:
            return message


def update(session, body):
    send({"jsonrpc": "2.0", "method": "session/update",
          "params": {"sessionId": session, "update": body}})


def say(session, text):
    update(session, {"sessionUpdate": "agent_message_chunk",
                     "content": {"type": "text", "text": text}})


def error_of(response):
    return response.get("error", {}).get("message", "no error: %r" % response.get("result"))


class Surprise(Exception):
    pass


def expect(condition, what):
    if not condition:
        raise Surprise(what)


def done(session, cwd):
    say(session, "Working on the task.\n")
    update(session, {"sessionUpdate": "plan", "entries": [
        {"content": "read the notes", "priority": "high", "status": "completed"},
        {"content": "write the output", "priority": "medium", "status": "in_progress"},
    ]})
    update(session, {"sessionUpdate": "tool_call", "toolCallId": "call-1",
                     "title": "Read README.md", "kind": "read", "status": "in_progress",
                     "locations": [{"path": os.path.join(cwd, "README.md")}]})
    read = call("fs/read_text_file", {"sessionId": session,
                                      "path": os.path.join(cwd, "README.md"),
                                      "line": 2, "limit": 1})
    expect("result" in read, "read failed: " + error_of(read))
    content = read["result"]["content"]
    expect(content == "second\n", "read returned %r" % content)
    update(session, {"sessionUpdate": "tool_call_update", "toolCallId": "call-1",
                     "status": "completed"})

    target = os.path.join(cwd, "src", "out.txt")
    permission = call("session/request_permission", {
        "sessionId": session,
        "toolCall": {"toolCallId": "call-2", "title": "Write src/out.txt", "kind": "edit",
                     "locations": [{"path": target}]},
        "options": [
            {"optionId": "yes-always", "name": "Always allow", "kind": "allow_always"},
            {"optionId": "yes", "name": "Allow", "kind": "allow_once"},
            {"optionId": "no", "name": "Reject", "kind": "reject_once"},
        ],
    })
    outcome = permission.get("result", {}).get("outcome")
    expect(outcome == {"outcome": "selected", "optionId": "yes"}, "permission %r" % permission)
    write = call("fs/write_text_file", {"sessionId": session, "path": target,
                                        "content": "line two was " + content})
    expect("result" in write, "write failed: " + error_of(write))

    created = call("terminal/create", {"sessionId": session, "command": "echo",
                                       "args": ["hello", "from", "echo"], "outputByteLimit": 1000})
    expect("result" in created, "terminal/create failed: " + error_of(created))
    terminal = created["result"]["terminalId"]
    waited = call("terminal/wait_for_exit", {"sessionId": session, "terminalId": terminal})
    expect(waited.get("result", {}).get("exitCode") == 0, "wait_for_exit %r" % waited)
    output = call("terminal/output", {"sessionId": session, "terminalId": terminal})
    result = output.get("result", {})
    expect(result.get("output") == "hello from echo\n", "terminal/output %r" % output)
    expect(result.get("exitStatus", {}).get("exitCode") == 0, "exitStatus %r" % output)
    released = call("terminal/release", {"sessionId": session, "terminalId": terminal})
    expect("result" in released, "terminal/release failed: " + error_of(released))
    say(session, "The command said: " + result["output"])
    return "end_turn"


def escape(session, cwd):
    for path in [os.path.join(cwd, "..", "outside.txt"),
                 os.path.join(os.path.dirname(cwd), "outside.txt"),
                 os.path.join(cwd, "Cargo.toml")]:
        write = call("fs/write_text_file", {"sessionId": session, "path": path, "content": "x"})
        say(session, "write refused: %s\n" % error_of(write))
    read = call("fs/read_text_file", {"sessionId": session,
                                      "path": os.path.join(cwd, "..", "secret.txt")})
    say(session, "read refused: %s\n" % error_of(read))
    return "end_turn"


def command_denied(session, cwd):
    for command, args in [("rm", ["-rf", "src"]), ("./src/echo", ["hi"])]:
        created = call("terminal/create", {"sessionId": session, "command": command, "args": args})
        say(session, "command refused: %s\n" % error_of(created))
    return "end_turn"


def permission_rejected(session, cwd):
    options = [
        {"optionId": "allow", "name": "Allow", "kind": "allow_once"},
        {"optionId": "reject", "name": "Reject", "kind": "reject_once"},
    ]
    asks = [
        {"toolCallId": "call-1", "title": "Edit Cargo.toml", "kind": "edit",
         "locations": [{"path": os.path.join(cwd, "Cargo.toml")}]},
        {"toolCallId": "call-2", "title": "Clean up", "kind": "execute",
         "rawInput": {"command": "rm -rf /"}},
    ]
    for tool_call in asks:
        answer = call("session/request_permission",
                      {"sessionId": session, "toolCall": tool_call, "options": options})
        outcome = answer.get("result", {}).get("outcome", {})
        say(session, "%s: %s\n" % (tool_call["title"], outcome.get("optionId", outcome.get("outcome"))))
    return "end_turn"


def refusal(session, cwd):
    say(session, "I will not do this.\n")
    return "refusal"


def crash(session, cwd):
    say(session, "About to fail.\n")
    sys.stderr.write("agent failure: out of cheese\n")
    sys.stderr.flush()
    os._exit(3)


def malformed(session, cwd):
    sys.stdout.write("this is not json\n")
    sys.stdout.flush()
    time.sleep(60)
    return "end_turn"


def big_read(session, cwd):
    read = call("fs/read_text_file", {"sessionId": session, "path": os.path.join(cwd, "README.md")})
    say(session, "read refused: %s\n" % error_of(read))
    return "end_turn"


def flood(session, cwd):
    sys.stdout.write("x" * 100000)
    sys.stdout.flush()
    time.sleep(60)
    return "end_turn"


def hang(session, cwd):
    pid_file = os.environ.get("ACP_PID_FILE")
    # A helper of its own, as real agents have, which must not outlive it.
    helper = subprocess.Popen(["sleep", "300"])
    if pid_file:
        with open(pid_file + ".tmp", "w") as f:
            f.write("%d %d" % (os.getpid(), helper.pid))
        os.rename(pid_file + ".tmp", pid_file)
    say(session, "Thinking for a long time.\n")
    while True:
        # session/cancel arrives here; a stubborn agent notes it and goes on.
        message = receive()
        if pid_file:
            with open(pid_file + ".received", "a") as f:
                f.write("%s %s\n" % (message.get("method"), json.dumps(message.get("params"))))


def many_requests(session, cwd):
    created = call("terminal/create", {"sessionId": session, "command": "sleep", "args": ["3"]})
    expect("result" in created, "terminal/create failed: " + error_of(created))
    terminal = created["result"]["terminalId"]
    ids = ["wait-%d" % i for i in range(20)]
    for request_id in ids:
        send({"jsonrpc": "2.0", "id": request_id, "method": "terminal/wait_for_exit",
              "params": {"sessionId": session, "terminalId": terminal}})
    answers = {}
    while len(answers) < len(ids):
        message = receive()
        if message.get("id") in ids:
            answers[message["id"]] = message
    exited = sum(1 for a in answers.values() if a.get("result", {}).get("exitCode") == 0)
    busy = sum(1 for a in answers.values() if "in flight" in error_of(a))
    say(session, "exited: %d, busy: %d\n" % (exited, busy))
    return "end_turn"


def cooperative(session, cwd):
    pid_file = os.environ["ACP_PID_FILE"]
    with open(pid_file + ".tmp", "w") as f:
        f.write("%d" % os.getpid())
    os.rename(pid_file + ".tmp", pid_file)
    say(session, "Waiting to be cancelled.\n")
    while receive().get("method") != "session/cancel":
        pass
    # Still asking after the cancel: the protocol says the answer must be
    # "cancelled".
    answer = call("session/request_permission", {
        "sessionId": session,
        "toolCall": {"toolCallId": "call-1", "title": "Write src/late.txt", "kind": "edit",
                     "locations": [{"path": os.path.join(cwd, "src", "late.txt")}]},
        "options": [{"optionId": "allow", "name": "Allow", "kind": "allow_once"}],
    })
    with open(pid_file + ".received", "w") as f:
        f.write(json.dumps(answer.get("result")))
    return "cancelled"


SCENARIOS = {
    "done": done,
    "escape": escape,
    "command-denied": command_denied,
    "permission-rejected": permission_rejected,
    "refusal": refusal,
    "crash": crash,
    "malformed": malformed,
    "big-read": big_read,
    "flood": flood,
    "hang": hang,
    "cooperative": cooperative,
    "many-requests": many_requests,
}


def main():
    session = None
    cwd = None
    while True:
        message = receive()
        method = message.get("method")
        params = message.get("params", {})
        if "id" not in message:
            continue
        if method == "initialize":
            capabilities = params.get("clientCapabilities", {})
            if (params.get("protocolVersion") != 1
                    or not capabilities.get("fs", {}).get("readTextFile")
                    or not capabilities.get("fs", {}).get("writeTextFile")
                    or capabilities.get("terminal") is not True):
                send({"jsonrpc": "2.0", "id": message["id"],
                      "error": {"code": -32602, "message": "bad initialize: %r" % params}})
                continue
            send({"jsonrpc": "2.0", "id": message["id"], "result": {
                "protocolVersion": 1,
                "agentCapabilities": {"loadSession": False, "promptCapabilities": {}},
                "authMethods": [],
            }})
        elif method == "session/new":
            cwd = params.get("cwd", "")
            if not os.path.isabs(cwd) or params.get("mcpServers") != []:
                send({"jsonrpc": "2.0", "id": message["id"],
                      "error": {"code": -32602, "message": "bad session/new: %r" % params}})
                continue
            session = "sess-1"
            send({"jsonrpc": "2.0", "id": message["id"], "result": {"sessionId": session}})
        elif method == "session/prompt":
            prompt = params.get("prompt", [])
            text = "".join(block.get("text", "") for block in prompt if block.get("type") == "text")
            if params.get("sessionId") != session or not text.startswith("# Task"):
                send({"jsonrpc": "2.0", "id": message["id"],
                      "error": {"code": -32602, "message": "bad session/prompt: %r" % params}})
                continue
            try:
                stop = SCENARIOS[SCENARIO](session, cwd)
            except Surprise as surprise:
                say(session, "UNEXPECTED: %s\n" % surprise)
                stop = "refusal"
            result = {"stopReason": stop}
            if os.environ.get("ACP_USAGE"):
                # An optional usage report ("input,output" tokens), as newer
                # agents add to their answer.
                tokens = [int(n) for n in os.environ["ACP_USAGE"].split(",")]
                result["usage"] = {"inputTokens": tokens[0], "outputTokens": tokens[1],
                                   "totalTokens": sum(tokens)}
            send({"jsonrpc": "2.0", "id": message["id"], "result": result})
        else:
            send({"jsonrpc": "2.0", "id": message["id"],
                  "error": {"code": -32601, "message": "method not found: %s" % method}})


if __name__ == "__main__":
    main()
