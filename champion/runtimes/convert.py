"""`python -m champion.runtimes.convert MODEL FRAMEWORK GRAPH ROWS`: a tree model's ONNX graph, and the check
rows built from it, made in a process of its own.

The converters are heavy: importing skl2onnx and onnx costs a serving process about 1.5 s and tens of MiB
it would keep for good, for a conversion made once per model file (`compiled.py` keeps the graph). So the
serving process asks this short-lived process for the graph and only ever imports onnxruntime. Exit status
0 with the graph written to GRAPH and the check rows kept at ROWS; otherwise the last line on stderr says why.
"""

from __future__ import annotations

import sys
from pathlib import Path

from champion import runtimes
from champion.runtimes import compiled
from champion.runtimes.base import Framework


def main(argv: list[str]) -> int:
    model, framework, graph, rows = argv
    try:
        native = runtimes.load(Path(model), Framework(framework))
        data = compiled.convert(native)
        compiled.keep_check_rows(native.signature(), data, Path(rows))
    except Exception as exc:  # any failure is reported, in one line, to the serving process
        sys.stderr.write(compiled.first_line(exc) + "\n")
        return 1
    Path(graph).write_bytes(data)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
