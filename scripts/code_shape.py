#!/usr/bin/env python3
"""The shape of lib/: files over 400 lines and functions over 50 lines (a crude brace scanner:
a function starts at a line ending in '{' whose text looks like a signature, and ends where its
braces close). Prints a summary; used for the before/after figures in the README.

    scripts/code_shape.py [DIR]   (default: lib)
"""
import re
import sys
from pathlib import Path

SIG = re.compile(r"^\s*[\w:<>,~*&\s\[\]]+\([^;]*\)\s*(const)?\s*(noexcept)?\s*(override)?\s*"
                 r"(->\s*[\w:<>]+\s*)?(:\s*.*)?\{\s*$")
NOT_FN = re.compile(r"^\s*(if|for|while|switch|catch|else|do|namespace|struct|class|enum)\b")


def functions(lines):
    out = []
    i = 0
    while i < len(lines):
        line = lines[i]
        if SIG.match(line) and not NOT_FN.match(line) and "=" not in line.split("(")[0]:
            depth = 0
            start = i
            for j in range(i, len(lines)):
                depth += lines[j].count("{") - lines[j].count("}")
                if depth <= 0:
                    out.append((start + 1, j - start + 1, line.strip()[:70]))
                    i = j
                    break
        i += 1
    return out


def main():
    root = Path(sys.argv[1] if len(sys.argv) > 1 else "lib")
    files = sorted(p for p in root.rglob("*") if p.suffix in (".cpp", ".hpp"))
    long_files, long_fns, total, nfn = [], [], 0, 0
    for f in files:
        lines = f.read_text(errors="replace").splitlines()
        total += len(lines)
        if len(lines) > 400:
            long_files.append((len(lines), str(f)))
        for start, n, sig in functions(lines):
            nfn += 1
            if n > 50:
                long_fns.append((n, f"{f}:{start}", sig))
    print(f"files: {len(files)}, lines: {total}, functions: {nfn}")
    print(f"files over 400 lines: {len(long_files)}")
    for n, f in sorted(long_files, reverse=True):
        print(f"  {n:5d}  {f}")
    print(f"functions over 50 lines: {len(long_fns)}")
    for n, f, sig in sorted(long_fns, reverse=True):
        print(f"  {n:5d}  {f}  {sig}")


if __name__ == "__main__":
    main()
