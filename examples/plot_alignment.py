#!/usr/bin/env python3
"""plot_alignment.py: draws attention weights [B, steps, T] as a PNG heatmap, one panel per
sequence, decoder steps down and source positions across, as in the figures of Bahdanau et al.:
the files examples/bahdanau writes with --plot PREFIX (PREFIX_alpha.npy, PREFIX_lengths.npy,
PREFIX_src.npy, PREFIX_out.npy), or any [B, Tq, T] weights (`clattn additive --weights`).
Columns past a sequence's length (weight 0 by construction) are cut off when the lengths are
given; with the source and output tokens the axes are labelled with them and the rows end at
the first EOS (token 10).

usage: python examples/plot_alignment.py ALIGN.npy OUT.png [LENGTHS.npy [SRC.npy OUT_TOKENS.npy]]
       python examples/plot_alignment.py --prefix PREFIX OUT.png
(needs numpy and matplotlib)
"""
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator

EOS = 10


def main(argv):
    if len(argv) == 4 and argv[1] == "--prefix":
        p = argv[2]
        argv = [argv[0], f"{p}_alpha.npy", argv[3], f"{p}_lengths.npy", f"{p}_src.npy",
                f"{p}_out.npy"]
    if len(argv) not in (3, 4, 6):
        print(__doc__.strip(), file=sys.stderr)
        return 2
    align = np.load(argv[1])
    if align.ndim == 2:
        align = align[None]
    if align.ndim != 3:
        print(f"{argv[1]}: expected [B, steps, T], got shape {align.shape}", file=sys.stderr)
        return 1
    B, steps, T = align.shape
    lengths = np.load(argv[3]) if len(argv) > 3 else np.full(B, T)
    src, out = (np.load(argv[4]), np.load(argv[5])) if len(argv) > 5 else (None, None)
    fig, axes = plt.subplots(1, B, figsize=(3.2 * B, 3.6), squeeze=False)
    for b, ax in enumerate(axes[0]):
        n = int(lengths[b])
        rows = steps
        if out is not None:  # up to and including the first EOS
            eos = np.flatnonzero(out[b] == EOS)
            rows = int(eos[0]) + 1 if eos.size else steps
        im = ax.imshow(align[b, :rows, :n], cmap="gray_r", vmin=0.0, vmax=1.0, aspect="auto",
                       interpolation="nearest")
        if src is not None:
            ax.set_xticks(range(n), [str(d) for d in src[b, :n]])
            ax.set_yticks(range(rows), ["EOS" if t == EOS else str(t) for t in out[b, :rows]])
            ax.set_title("".join(str(d) for d in src[b, :n]))
            ax.set_xlabel("source digit")
            if b == 0:
                ax.set_ylabel("output token (greedy)")
        else:
            ax.xaxis.set_major_locator(MaxNLocator(integer=True))
            ax.yaxis.set_major_locator(MaxNLocator(integer=True))
            ax.set_title(f"sequence {b} ({n} positions)")
            ax.set_xlabel("source position j")
            if b == 0:
                ax.set_ylabel("decoder step i")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle("additive attention weights alpha[i, j]")
    fig.tight_layout()
    fig.savefig(argv[2], dpi=80)
    print(f"wrote {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
