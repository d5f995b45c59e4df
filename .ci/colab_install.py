"""The notebooks' install cell in a Colab-like environment, run twice.

No Colab machine can be reached from CI, so this builds the nearest thing: a fresh
virtual environment holding the packages Colab preinstalls that matter here
(COLAB below: older transformers, gradio, datasets, ipywidgets, numpy; torch is
the machine's CPU build of the pinned version, as other builds are a 5 GB download).
Then it runs a notebook's own install cell in IPython, with ``google.colab`` faked
and transformers already imported, as a Colab session that imported it would have,
and the repository URL replaced by this checkout:

1. the cell installs the workbook, says which loaded library changed version and
   that the session must restart, and does not go on to import a half-updated mix;
2. after the "restart" (a new process) the same cell installs nothing and runs setup();
3. ``pip check`` finds no broken requirement, and the install changed only what the
   workbook needs: transformers and gradio move to the workbook's majors; numpy and
   ipywidgets stay as Colab had them.

Not checked: CUDA, Colab's own torch build, its widget manager, the real git URL.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
#: Colab's preinstalled versions of the packages the workbook touches (late 2025);
#: update when Colab moves on.
COLAB = {"transformers": "4.57.1", "datasets": "4.0.0", "numpy": "2.0.2", "ipywidgets": "7.7.1",
         "gradio": "5.49.1", "ipython": "7.34.0"}
TORCH = "torch==2.13.0"


def run(*command, **kwargs) -> subprocess.CompletedProcess:
    done = subprocess.run(command, text=True, capture_output=True, **kwargs)
    if done.returncode:
        raise SystemExit(f"failed: {' '.join(command)}\n{done.stdout[-3000:]}\n{done.stderr[-3000:]}")
    return done


def install_cell() -> str:
    cells = json.loads((ROOT / "notebooks" / "01_speech_translation.ipynb").read_text())["cells"]
    cell = next("".join(c["source"]) for c in cells if "".join(c["source"]).startswith("# In Colab"))
    url = next(line for line in cell.splitlines() if "%pip" in line).split("git+")[1].split('"')[0]
    return cell.replace(f"git+{url}", f"file://{ROOT}")


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="colab-like-") as tmp:
        venv = Path(tmp) / "venv"
        run(sys.executable, "-m", "venv", str(venv))
        python = str(venv / "bin" / "python")
        start = time.perf_counter()
        run(python, "-m", "pip", "install", "-q", TORCH)
        run(python, "-m", "pip", "install", "-q", *(f"{k}=={v}" for k, v in COLAB.items()))
        print(f"Colab-like environment ready in {time.perf_counter() - start:.0f} s: "
              + ", ".join(f"{k} {v}" for k, v in COLAB.items()), flush=True)

        colab = 'import sys, types\nsys.modules["google.colab"] = types.ModuleType("google.colab")\n'
        first = Path(tmp) / "first.ipy"
        first.write_text(colab + "import transformers  # as a session that already used it\n" + install_cell())
        env = {**os.environ, "PATH": f"{venv / 'bin'}:{os.environ['PATH']}", "VIRTUAL_ENV": str(venv)}
        out = run(str(venv / "bin" / "ipython"), "--no-banner", "--colors=NoColor", str(first), cwd=tmp,
                  env=env).stdout
        print(out.strip()[-600:])
        assert "Restart the session" in out and "transformers" in out, "no restart advice after the install"
        assert "numpy" not in out.split("Restart the session")[1].split("changed")[0], "numpy reported as changed"

        second = Path(tmp) / "second.ipy"
        second.write_text(colab + install_cell())
        start = time.perf_counter()
        out = run(str(venv / "bin" / "ipython"), "--no-banner", "--colors=NoColor", str(second), cwd=tmp,
                  env=env).stdout
        print(out.strip()[-600:])
        assert "Restart" not in out and "Running " in out, "the second run did not go straight to setup()"
        print(f"second run (installed already): {time.perf_counter() - start:.0f} s")

        run(python, "-m", "pip", "check")
        versions = json.loads(run(python, "-c", "import importlib.metadata as m, json; print(json.dumps({n: "
                                  "m.version(n) for n in ('transformers', 'gradio', 'numpy', 'ipywidgets', "
                                  "'datasets')}))").stdout)
        print("after the install:", versions)
        assert versions["transformers"].startswith("5.") and versions["gradio"].startswith("6.")
        assert versions["numpy"] == COLAB["numpy"] and versions["ipywidgets"] == COLAB["ipywidgets"]
        assert versions["datasets"] == COLAB["datasets"]
    print("Colab-like install: OK")
    return 0


if __name__ == "__main__":
    sys.exit(main())
