#!/usr/bin/python3
"""plot_alignment.py: draws the alignment matrix saved by examples/bahdanau (or `clattn additive
--weights` with a [B, Tq, T] query) as a PNG heatmap, one panel per sentence, target steps down
and source words across, as in the figures of Bahdanau et al. Columns past a sentence's length
(attention weight 0 by construction) are cut off when the lengths file is given.

usage: /usr/bin/python3 examples/plot_alignment.py ALIGN.npy OUT.png [LENGTHS.npy]
"""
import sys

import matplotlib

matplotlib.use("Agg")  # no display needed
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.ticker import MaxNLocator


def main(argv):
    if len(argv) < 3:
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
    fig, axes = plt.subplots(1, B, figsize=(3.2 * B, 3.6), squeeze=False)
    for b, ax in enumerate(axes[0]):
        n = int(lengths[b])
        im = ax.imshow(align[b, :, :n], cmap="gray_r", vmin=0.0, aspect="auto",
                       interpolation="nearest")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
        ax.set_title(f"sentence {b} ({n} words)")
        ax.set_xlabel("source position j")
        if b == 0:
            ax.set_ylabel("decoder step i")
        fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.suptitle("additive attention weights alpha[i, j] (random weights)")
    fig.tight_layout()
    fig.savefig(argv[2], dpi=110)
    print(f"wrote {argv[2]}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
