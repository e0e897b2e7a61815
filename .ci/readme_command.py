"""Print one of the README's set-up commands: the fenced block after ``<!-- ci: NAME -->``.

The README is the single source of both commands; ``.ci/run`` runs what this prints.
"""

import re
import sys
from pathlib import Path

name = sys.argv[1]
text = (Path(__file__).resolve().parents[1] / "README.md").read_text(encoding="utf-8")
found = re.search(rf"<!-- ci: {re.escape(name)} -->\s*```bash\n(.*?)```", text, re.DOTALL)
if found is None:
    sys.exit(f"README.md has no '<!-- ci: {name} -->' marker before a ```bash block")
print(found.group(1).strip())
