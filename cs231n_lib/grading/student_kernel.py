"""The kernel a submission runs in while it is graded: IPython's kernel plus the student's
end of the bridge to the trusted test process.

    python -m cs231n_lib.grading.student_kernel --bridge SOCKET -f CONNECTION_FILE

It connects to the grader's bridge socket first, before any student code runs (the grader
accepts one connection only, then removes the socket), then starts the kernel and serves
the tests' requests in a thread against the kernel's namespace (student_side.py).
"""

from __future__ import annotations

import socket
import sys


def main(argv: list[str]) -> None:
    if "--bridge" not in argv or argv.index("--bridge") + 1 >= len(argv):
        raise SystemExit("usage: python -m cs231n_lib.grading.student_kernel --bridge SOCKET ...")
    at = argv.index("--bridge")
    path = argv[at + 1]
    del argv[at : at + 2]
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.connect(path)
    if sys.path and sys.path[0] in ("", "."):
        del sys.path[0]  # as ipykernel_launcher does
    from ipykernel.kernelapp import IPKernelApp

    from cs231n_lib.grading.student_side import serve

    app = IPKernelApp.instance()
    app.initialize(argv)
    # The kernel's event loop exists once it has started, before the first request comes.
    serve(
        sock, app.shell.user_ns, in_main_thread=lambda task: app.kernel.io_loop.add_callback(task)
    )
    app.start()


if __name__ == "__main__":
    main(sys.argv[1:])
