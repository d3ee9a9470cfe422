"""A stand-in for a coding agent, plugged into kiro as a CommandExecutor.

kiro runs it once per task with the task brief (markdown) on stdin and the
task in KIRO_TASK_ID / KIRO_TASK_TITLE. A real agent CLI would read the brief
and edit the code; this one knows how to implement the quickstart's slug
feature and writes one annotated unittest file per task that names
acceptance criteria, so that the verifier can trace results to them.
"""
import os
import pathlib
import re
import sys

brief = sys.stdin.read()
root = pathlib.Path(os.environ["KIRO_WORKSPACE"])
task = os.environ["KIRO_TASK_ID"]

impl = root / "slug.py"
if not impl.exists():
    impl.write_text(
        "import re\n\n\n"
        "def slugify(title):\n"
        "    kept = re.sub(r'[^A-Za-z0-9 ]', '', title)\n"
        "    return '-'.join(kept.lower().split())\n"
    )

links = re.search(r"^- Requirements: (.+)$", brief, re.MULTILINE)
if links:
    ids = links.group(1).strip()
    name = "test_task_" + task.replace(".", "_")
    tests = root / "tests"
    tests.mkdir(exist_ok=True)
    (tests / (name + ".py")).write_text(
        "import unittest\n\nfrom slug import slugify\n\n\n"
        "class SlugTest(unittest.TestCase):\n"
        f"    # Validates: Requirements {ids}\n"
        f"    def {name}(self):\n"
        "        self.assertEqual(slugify('Hello World'), 'hello-world')\n"
        "        self.assertEqual(slugify('Rust & Kiro!'), 'rust-kiro')\n"
        "        self.assertEqual(slugify(''), '')\n"
    )
print(f"task {task}: done")
