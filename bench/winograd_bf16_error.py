#!/usr/bin/env python3
"""How much error Winograd adds when its transformed operands are rounded to bfloat16.

Why bfloat16 convolutions do not run Winograd (bench/NOTES.md, issue 19): vdpbf16ps takes
bfloat16 operands, so a bfloat16 Winograd would round the transformed image and weights
(B^T d B and G g G^T) before multiplying. This measures, for 3x3 kernels over 32 channels
with random normal data, the root-mean-square error that rounding adds to a tile's outputs,
relative to the outputs' RMS, next to the error of rounding the inputs themselves to bfloat16
(what mixed precision accepts). The transforms are the Toom-Cook ones for the given points
plus infinity, B^T solved from A^T and G.

Usage: python3 bench/winograd_bf16_error.py   (needs python3-numpy; about a second)
"""
import numpy as np


def bf16(a):
    """Round float32 values to the nearest bfloat16, ties to even."""
    u = np.asarray(a, dtype=np.float32).view(np.uint32).astype(np.uint64)
    u = (u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000
    return u.astype(np.uint32).view(np.float32).astype(np.float64)


def transforms(m, points, r=3):
    n = m + r - 1
    at, g = np.zeros((m, n)), np.zeros((n, r))
    for j, p in enumerate(points):
        at[:, j] = [p**i for i in range(m)]
        f = np.prod([p - q for q in points if q != p])
        g[j] = [p**k / f for k in range(r)]
    at[m - 1, n - 1] = g[n - 1, r - 1] = 1
    # B^T from the identity sum_j AT[i,j] G[j,k] BT[j,l] = [l == i + k].
    rows, rhs = [], []
    for i in range(m):
        for k in range(r):
            for l in range(n):
                row = np.zeros((n, n))
                row[:, l] = at[i, :] * g[:, k]
                rows.append(row.ravel())
                rhs.append(1.0 if l == i + k else 0.0)
    sol = np.linalg.lstsq(np.array(rows), np.array(rhs), rcond=None)[0]
    assert np.allclose(np.array(rows) @ sol, rhs, atol=1e-9)
    return sol.reshape(n, n), g, at


def direct(x, w, m):
    return np.array([[np.sum(x[:, i:i + 3, j:j + 3] * w) for j in range(m)] for i in range(m)])


def winograd_bf16(x, w, bt, g, at):
    acc = sum(bf16(g @ w[c] @ g.T) * bf16(bt @ x[c] @ bt.T) for c in range(x.shape[0]))
    return at @ acc @ at.T


def main():
    rng = np.random.default_rng(0)
    channels, trials = 32, 200
    print(f"{'tile':<34}{'fewer multiplies':>22}{'input rounding':>17}{'Winograd rounding adds':>24}")
    for m, points in [(2, [0, 1, -1]), (3, [0, 1, -1, 2]), (4, [0, 1, -1, 2, -2]), (4, [0, 1, -1, 2, -0.5])]:
        bt, g, at = transforms(m, points)
        a = m + 2
        inputs, added = [], []
        for _ in range(trials):
            x = rng.standard_normal((channels, a, a))
            w = rng.standard_normal((channels, 3, 3)) * 0.1
            xb, wb = bf16(x), bf16(w)
            exact, rounded = direct(x, w, m), direct(xb, wb, m)
            rms = np.sqrt(np.mean(exact**2))
            inputs.append(np.sqrt(np.mean((rounded - exact) ** 2)) / rms)
            added.append(np.sqrt(np.mean((winograd_bf16(xb, wb, bt, g, at) - rounded) ** 2)) / rms)
        name = f"F({m}x{m}, 3x3) {{{', '.join(str(p) for p in points)}}}"
        print(f"{name:<34}{9 * m * m / a**2:>21.2f}x{np.mean(inputs):>17.2e}{np.mean(added):>24.2e}")


if __name__ == "__main__":
    main()
