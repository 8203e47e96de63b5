"""Start the Dagster UI on this project, or take a headless-Chromium screenshot of a running one.

    python -m orchestration.ui                 # dagster dev -w workspace.yaml, DAGSTER_HOME=./dagster_home,
                                               # and the report plots (PNG) at http://127.0.0.1:3001
    python -m orchestration.ui screenshot --url http://127.0.0.1:3000/asset-groups --out docs/ui/asset_graph.png

Why a module: ``dagster dev`` needs a DAGSTER_HOME holding the project's ``dagster.yaml`` (run monitoring, retries,
concurrency) to persist runs between sessions; this prepares it so ``make ui`` is one command.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome")
# Flags for a quiet, offline, sandbox-less headless run (CI containers run as root).
CHROMIUM_FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
)


def find_chromium() -> str | None:
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def screenshot(url: str, out: str | Path, *, width: int = 1600, height: int = 1000, wait_ms: int = 20000,
               timeout_s: float = 120) -> Path:
    """Render ``url`` in headless Chromium and save a PNG (waits ``wait_ms`` of virtual time for the page's JS)."""
    browser = find_chromium()
    if browser is None:
        raise FileNotFoundError("no Chromium found (Debian: apt-get install -y chromium)")
    out = Path(out).resolve()
    out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="chromium-") as profile:
        command = [
            browser,
            *CHROMIUM_FLAGS,
            f"--user-data-dir={profile}",
            f"--window-size={width},{height}",
            f"--virtual-time-budget={wait_ms}",
            f"--screenshot={out}",
            url,
        ]
        subprocess.run(command, check=True, capture_output=True, timeout=timeout_s)
    if not out.is_file() or out.stat().st_size == 0:
        raise RuntimeError(f"Chromium wrote no screenshot for {url}")
    return out


class PlotRequestHandler(SimpleHTTPRequestHandler):
    """GET of PNG files under the served folder, nothing else (no listings, no other files)."""

    def send_head(self):
        local = Path(self.translate_path(self.path))
        if local.suffix.lower() != ".png" or not local.is_file():
            self.send_error(404, "only the report plots (PNG files) are served")
            return None
        return super().send_head()

    def log_message(self, format, *args):  # noqa: A002 - the base class's signature
        pass


def serve_plots(root: str | Path, host: str = "127.0.0.1", port: int = 3001) -> ThreadingHTTPServer:
    """Serve the PNG plots under ``root`` (the project root) so the asset pages can show them (see
    ``orchestration.metadata.image_markdown``); runs in a daemon thread until ``shutdown()``."""
    handler = partial(PlotRequestHandler, directory=str(Path(root).resolve()))
    server = ThreadingHTTPServer((host, port), handler)
    threading.Thread(target=server.serve_forever, name="plots", daemon=True).start()
    return server


def prepare_home(home: Path | None = None) -> Path:
    home = Path(home or os.environ.get("DAGSTER_HOME") or REPO_ROOT / "dagster_home").resolve()
    home.mkdir(parents=True, exist_ok=True)
    shutil.copy2(REPO_ROOT / "dagster.yaml", home / "dagster.yaml")
    return home


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m orchestration.ui", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command")
    shot = sub.add_parser("screenshot", help="PNG of a page of a running Dagster UI")
    shot.add_argument("--url", default="http://127.0.0.1:3000/asset-groups")
    shot.add_argument("--out", default=str(REPO_ROOT / "docs" / "ui" / "asset_graph.png"))
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", default="3000")
    parser.add_argument("--plots-port", type=int, default=3001, help="where the asset pages fetch the report plots")
    args = parser.parse_args(argv)
    if args.command == "screenshot":
        print(screenshot(args.url, args.out))
        return 0
    home = prepare_home()
    env = {**os.environ, "DAGSTER_HOME": str(home), "DVC_NO_ANALYTICS": "1"}
    dagster = Path(sys.executable).with_name("dagster")
    command = [str(dagster), "dev", "-w", str(REPO_ROOT / "workspace.yaml"), "-h", args.host, "-p", args.port]
    from orchestration.definitions import DEFAULT_WORKSPACE

    root = Path(os.environ.get("HIEROACTION_PROJECT_ROOT", DEFAULT_WORKSPACE))
    plots = serve_plots(root, args.host, args.plots_port)
    print(f"Dagster home {home}; UI at http://{args.host}:{args.port}; plots of {root} at "
          f"http://{args.host}:{args.plots_port}")
    try:
        return subprocess.call(command, cwd=REPO_ROOT, env=env)
    finally:
        plots.shutdown()


if __name__ == "__main__":
    sys.exit(main())
