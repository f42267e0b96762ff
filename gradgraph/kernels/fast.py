"""Fast convolution and pooling kernels (Numba).  Same API as ``reference.py``.

Read ``reference.py`` first: it is the specification, and the parity tests hold
these functions to it.  This file only changes *how* the same sums are computed.

The tricks
----------
**The "wide row" trick (stride 1).**  Flatten one padded input plane to a vector
``xf`` of length ``Hp*Wp``.  Output pixel ``(p, q)`` reads
``xpad[p + i*D_h, q + j*D_w] = xf[t + off(i, j)]`` with ``t = p*Wp + q`` and
``off(i, j) = i*D_h*Wp + j*D_w``.  So if we compute a *wide* output row
``acc[t]`` for every ``t < L = (OH-1)*Wp + OW`` (the columns ``q >= OW`` are
junk, thrown away at the end), each kernel tap ``(c, i, j)`` becomes one long
contiguous AXPY ``acc[0:L] += w[f,c,i,j] * xf[off : off+L]`` that LLVM turns into
SIMD code.  That is im2col without building the im2col matrix: the "columns" are
just shifted views of the input plane.  Taps are applied four at a time and two
filters at a time: each pass over the two accumulator rows does eight
multiply-adds per element, which keeps the loop busy computing rather than
loading and storing ``acc``.

**The forward's rows run over the batch.**  The wide row wastes the junk
columns (a quarter of LeNet's C3: rows of 136 for 100 outputs) and its sweeps
are short.  The forward therefore first copies the input to a batch-innermost
layout ``xt[c, h, v, n]``.  There the ``OW`` pixels of one input row, for every
image, are one contiguous run of ``OW*N`` numbers, and so is one output row of
every image: ``out[:, f, p, :] += w[f,c,i,j] * xt[c, p + i*D_h, j*D_w : j*D_w + OW, :]``,
a long AXPY with no junk at all (640 numbers for C3 at batch 64).  Measured
against torch on C3 this took the forward from about 2.2x to 1.5x torch's time:
the two copies (in, and back to NCHW) cost less than the junk did.  Where the
junk is small (C1's 32-wide padded rows: 892 for 784 outputs) the copies cost
more than they save, so ``conv2d_forward`` keeps the wide row when the junk is
under a sixth of it, and otherwise calls the batch rows on blocks of 64 images
(larger blocks make rows that no longer stay in L1 cache).  Variants that
were no faster than the wide row: rows rounded up to 16, eight taps or four
filters per sweep, a whole 5x5 channel per sweep, ``fastmath=True``; filters
innermost with transposed weights were 3x slower (LLVM left them scalar).

The backward pass reuses the same views with a *wide* copy of ``d_out`` (junk
columns set to zero so they contribute nothing):

* ``d_w[f,c,i,j] = sum_n dot(gwide[n,f,0:L], xf[n,c, off : off+L])``: dot
  products over the same shifted views;
* ``d_x`` is col2im done in place: ``d_xpad[n,c, off : off+L] += w[f,c,i,j] *
  gwide[n,f,0:L]`` accumulated over f and taps in a plane that stays in L1
  cache, then cropped.

The backward takes the batch rows wherever the forward does, and also where the
junk is small but the batch is not (C1 at batch 64; see ``_SHORT_BATCH_ROW``), in
blocks of 64 images: ``d_out`` and the input are copied batch-innermost, and
the same sums run over rows of ``OW*N`` numbers, one per output row p:
``d_w[f,k] += dot(gt[f,p], x_k)`` (one job per pair of filters, so no thread
shares a sum) and ``d_x`` gathers, for each input row h of every image, the
output rows ``p = h - i*D_h`` times ``w[f,c,i,j]`` (one job per input row).
At batch 64 this took C3's backward from about 0.7 ms to 0.3 ms, C1's d_w
from 0.44 ms to 0.30 ms.

Other strides use straightforward direct loops (correct, less tuned).  We do not
call BLAS: the LeNet shapes are too small for GEMM to win, and mixing Numba's
and OpenBLAS's thread pools in one process makes both wait for each other.

**Pooling** is one pass over each output, (n, c) plane after plane.

**Which kernels run on several threads.**  ``parallel=True`` roughly doubles a
kernel's compile time (Numba's parfor passes; measured on 2 cores: 5 s instead
of 1.5 s for a pooling kernel) and only pays off when there is enough work per
call.  On LeNet's shapes it gains about 1.5x on the three stride-1 conv kernels
and nothing, or a little slowdown, on pooling, padding and C1's small forward;
so only those three are parallel (the ``prange`` loops of the others run as
plain loops).

**Numba detail that matters 2-3x.**  Index 1-D slices with loop counters
(``row = a[start:stop]; row[q]``) instead of computed flat indices
(``a[start + q]``).  Numba must support negative indices (wrap-around) unless it
can prove an index is non-negative; that per-element check stops LLVM from
vectorising, and a ``range`` counter is provably non-negative.

All prange loops are over independent output blocks (no atomics, no races); the
only reduction across threads (``d_w`` over the batch) uses per-chunk partial
sums in float64.  Everything works, slowly, under ``NUMBA_DISABLE_JIT=1``.
"""

from __future__ import annotations

import numba
import numpy as np
from numba import prange

from ._compile import CONV_FASTMATH, kernel, kernel_is_warm, start_thread_pool
from .shapes import (
    ARGMAX_DTYPE,
    KERNEL_FUNCTIONS,
    check_conv_shapes,
    check_grad_shape,
    check_pool_shapes,
    conv_arguments,
    conv_output_size,
    float_array,
    is_lenet_pool,
    pool_params,
)

start_thread_pool()  # idle OpenMP workers sleep instead of spinning (see _compile.py)

__all__ = ["conv_output_size", "check_conv_shapes", "check_pool_shapes", *KERNEL_FUNCTIONS]


# ----------------------------------------------------------------------------
# small helpers
# ----------------------------------------------------------------------------


@kernel()
def _pad(x, ph, pw):
    """Zero-padded copy of x: (N, C, H + 2ph, W + 2pw)."""
    N, C, H, W = x.shape
    Hp, Wp = H + 2 * ph, W + 2 * pw
    out = np.empty((N, C, Hp, Wp), x.dtype)
    xf = x.reshape(N * C * H * W)
    of = out.reshape(N * C * Hp * Wp)
    for nc in prange(N * C):
        dst = of[nc * Hp * Wp:(nc + 1) * Hp * Wp]
        src = xf[nc * H * W:(nc + 1) * H * W]
        dst[:] = 0
        for h in range(H):
            d_row = dst[(h + ph) * Wp + pw:(h + ph) * Wp + pw + W]
            s_row = src[h * W:(h + 1) * W]
            for v in range(W):
                d_row[v] = s_row[v]
    return out


@kernel()
def _widen(d_out, Wp):
    """Wide copy of d_out: row p of each plane at p*Wp, zeros in the junk columns."""
    N, F, OH, OW = d_out.shape
    L = (OH - 1) * Wp + OW
    g = np.empty((N, F, L), d_out.dtype)
    df = d_out.reshape(N * F * OH * OW)
    gf = g.reshape(N * F * L)
    for nf in prange(N * F):
        src = df[nf * OH * OW:(nf + 1) * OH * OW]
        dst = gf[nf * L:(nf + 1) * L]
        for p in range(OH):
            d_row = dst[p * Wp:min(L, (p + 1) * Wp)]
            s_row = src[p * OW:(p + 1) * OW]
            for q in range(OW):
                d_row[q] = s_row[q]
            for q in range(OW, d_row.shape[0]):
                d_row[q] = 0
    return g


@kernel(fastmath=CONV_FASTMATH)
def _bias_grad(d_out):
    """d_b[f] = sum over n, p, q of d_out[n, f, p, q] (float64 accumulation)."""
    N, F, OH, OW = d_out.shape
    P = OH * OW
    df = d_out.reshape(N * F * P)
    total = np.zeros(F, np.float64)
    for f in prange(F):
        s = 0.0
        for n in range(N):
            plane = df[(n * F + f) * P:(n * F + f + 1) * P]
            for t in range(P):
                s += plane[t]
        total[f] = s
    return total.astype(d_out.dtype)


@kernel()
def _tap_offsets(C, Hp, Wp, KH, KW, dh, dw):
    """off[(c*KH + i)*KW + j] = start of tap (c, i, j) in a flattened padded image."""
    offs = np.empty(C * KH * KW, np.int64)
    for c in range(C):
        for i in range(KH):
            for j in range(KW):
                offs[(c * KH + i) * KW + j] = c * Hp * Wp + i * dh * Wp + j * dw
    return offs


# ----------------------------------------------------------------------------
# convolution, stride 1: the wide-row trick
# ----------------------------------------------------------------------------


@kernel()
def _batch_last(a):
    """Copy of a with the batch innermost: ``out[c, h, v, n] = a[n, c, h, v]``."""
    N, C, H, W = a.shape
    out = np.empty((C, H, W, N), a.dtype)
    for ch in prange(C * H):
        c = ch // H
        h = ch % H
        dst = out[c, h]
        for n in range(N):
            src = a[n, c, h]
            for v in range(W):
                dst[v, n] = src[v]
    return out


@kernel(fastmath=CONV_FASTMATH)
def _sweep_two_filters(a0, a1, xf, base, step, offs, wf, f0, f1):
    """The inner loop of both stride-1 forwards: for every tap k, with the row
    ``x_k = xf[base + step*offs[k]:][:len(a0)]``, ``a0 += wf[f0, k] * x_k`` and
    ``a1 += wf[f1, k] * x_k``.  Four taps per sweep over the rows: eight
    multiply-adds per element for each load and store of ``a0``, ``a1``."""
    R = a0.shape[0]
    K = offs.shape[0]
    K4 = K - K % 4
    for k in range(0, K4, 4):
        w0, w1, w2, w3 = wf[f0, k], wf[f0, k + 1], wf[f0, k + 2], wf[f0, k + 3]
        v0, v1, v2, v3 = wf[f1, k], wf[f1, k + 1], wf[f1, k + 2], wf[f1, k + 3]
        o0, o1 = base + step * offs[k], base + step * offs[k + 1]
        o2, o3 = base + step * offs[k + 2], base + step * offs[k + 3]
        x0, x1, x2, x3 = xf[o0:o0 + R], xf[o1:o1 + R], xf[o2:o2 + R], xf[o3:o3 + R]
        for t in range(R):
            e0, e1, e2, e3 = x0[t], x1[t], x2[t], x3[t]
            a0[t] += w0 * e0 + w1 * e1 + w2 * e2 + w3 * e3
            a1[t] += v0 * e0 + v1 * e1 + v2 * e2 + v3 * e3
    for k in range(K4, K):
        w0, v0 = wf[f0, k], wf[f1, k]
        o0 = base + step * offs[k]
        x0 = xf[o0:o0 + R]
        for t in range(R):
            a0[t] += w0 * x0[t]
            a1[t] += v0 * x0[t]


@kernel(parallel=True, fastmath=CONV_FASTMATH)
def _conv_fwd_s1(xp, w, b, offs, dh, dw):
    N, C, Hp, Wp = xp.shape
    F, _, KH, KW = w.shape
    OH, OW = Hp - dh * (KH - 1), Wp - dw * (KW - 1)
    L = (OH - 1) * Wp + OW
    K = C * KH * KW
    image = C * Hp * Wp
    xf = xp.reshape(N * image)
    wf = w.reshape(F, K)
    out = np.empty((N, F, OH, OW), xp.dtype)
    of = out.reshape(N * F * OH * OW)
    npairs = (F + 1) // 2
    for job in prange(N * npairs):  # one job = one image, two filters
        n = job // npairs
        f0 = 2 * (job % npairs)
        f1 = min(f0 + 1, F - 1)  # F odd: the last pair computes f0 twice
        a0 = np.empty(L, xp.dtype)
        a1 = np.empty(L, xp.dtype)
        b0, b1 = b[f0], b[f1]
        for t in range(L):
            a0[t] = b0
            a1[t] = b1
        _sweep_two_filters(a0, a1, xf, n * image, 1, offs, wf, f0, f1)
        r0 = (n * F + f0) * OH * OW
        r1 = (n * F + f1) * OH * OW
        for p in range(OH):  # drop the junk columns
            o0 = of[r0 + p * OW:r0 + (p + 1) * OW]
            o1 = of[r1 + p * OW:r1 + (p + 1) * OW]
            s0 = a0[p * Wp:p * Wp + OW]
            s1 = a1[p * Wp:p * Wp + OW]
            for q in range(OW):
                o0[q] = s0[q]
                o1[q] = s1[q]
    return out


@kernel(parallel=True, fastmath=CONV_FASTMATH)
def _conv_fwd_s1_batch(xt, w, b, offs, dh, dw, out):
    """Forward into ``out`` on rows that run over the batch (see "The forward's rows
    run over the batch"); ``xt[c, h, v, n] = xpad[n, c, h, v]`` (:func:`_batch_last`)."""
    C, Hp, Wp, N = xt.shape
    F, _, KH, KW = w.shape
    OH, OW = Hp - dh * (KH - 1), Wp - dw * (KW - 1)
    K = C * KH * KW
    xf = xt.reshape(C * Hp * Wp * N)
    wf = w.reshape(F, K)
    R = OW * N  # one output row of every image: the long row each tap sweeps
    npairs = (F + 1) // 2
    for job in prange(OH * npairs):  # one job = one output row p, two filters
        p = job // npairs
        f0 = 2 * (job % npairs)
        f1 = min(f0 + 1, F - 1)  # F odd: the last pair computes f0 twice
        a0 = np.empty(R, xt.dtype)  # a0[q*N + n] = out[n, f0, p, q]
        a1 = np.empty(R, xt.dtype)
        b0, b1 = b[f0], b[f1]
        for t in range(R):
            a0[t] = b0
            a1[t] = b1
        # offs[k] is the tap's start in one NCHW image, (c*Hp + i*dh)*Wp + j*dw;
        # in xt every pixel holds N numbers, so the start moves to N times that
        _sweep_two_filters(a0, a1, xf, p * Wp * N, N, offs, wf, f0, f1)
        for n in range(N):  # back to NCHW
            d0 = out[n, f0, p]
            d1 = out[n, f1, p]
            for q in range(OW):
                d0[q] = a0[q * N + n]
                d1[q] = a1[q * N + n]


@kernel(fastmath=CONV_FASTMATH)
def _dots_two_filters(g0, g1, xf, base, step, offs, d_w, f0, f1):
    """The inner loop of both stride-1 weight gradients: for every tap k, with the row
    ``x_k = xf[base + step*offs[k]:][:len(g0)]``, ``d_w[f0, k] += dot(g0, x_k)`` and
    ``d_w[f1, k] += dot(g1, x_k)`` (f1 == f0: once).  Four taps per sweep over the
    rows, as in :func:`_sweep_two_filters`: eight running sums in registers."""
    R = g0.shape[0]
    K = offs.shape[0]
    K4 = K - K % 4
    zero = np.zeros(1, xf.dtype)[0]
    for k in range(0, K4, 4):
        o0, o1 = base + step * offs[k], base + step * offs[k + 1]
        o2, o3 = base + step * offs[k + 2], base + step * offs[k + 3]
        x0, x1, x2, x3 = xf[o0:o0 + R], xf[o1:o1 + R], xf[o2:o2 + R], xf[o3:o3 + R]
        s0 = s1 = s2 = s3 = r0 = r1 = r2 = r3 = zero
        for t in range(R):
            c0, c1 = g0[t], g1[t]
            e0, e1, e2, e3 = x0[t], x1[t], x2[t], x3[t]
            s0 += c0 * e0
            s1 += c0 * e1
            s2 += c0 * e2
            s3 += c0 * e3
            r0 += c1 * e0
            r1 += c1 * e1
            r2 += c1 * e2
            r3 += c1 * e3
        d_w[f0, k] += s0
        d_w[f0, k + 1] += s1
        d_w[f0, k + 2] += s2
        d_w[f0, k + 3] += s3
        if f1 != f0:
            d_w[f1, k] += r0
            d_w[f1, k + 1] += r1
            d_w[f1, k + 2] += r2
            d_w[f1, k + 3] += r3
    for k in range(K4, K):
        o0 = base + step * offs[k]
        x0 = xf[o0:o0 + R]
        s0 = r0 = zero
        for t in range(R):
            s0 += g0[t] * x0[t]
            r0 += g1[t] * x0[t]
        d_w[f0, k] += s0
        if f1 != f0:
            d_w[f1, k] += r0


@kernel(parallel=True, fastmath=CONV_FASTMATH)
def _conv_dw_s1(g, xp, KH, KW, offs, nchunks):
    N, C, Hp, Wp = xp.shape
    F, L = g.shape[1], g.shape[2]
    K = C * KH * KW
    image = C * Hp * Wp
    xf = xp.reshape(N * image)
    gf = g.reshape(N * F * L)
    partial = np.zeros((nchunks, F, K), np.float64)
    npairs = (F + 1) // 2
    for job in prange(nchunks * npairs):  # one job = a slice of the batch, two filters
        chunk = job // npairs
        f0 = 2 * (job % npairs)
        f1 = min(f0 + 1, F - 1)
        for n in range(chunk * N // nchunks, (chunk + 1) * N // nchunks):
            g0 = gf[(n * F + f0) * L:(n * F + f0 + 1) * L]
            g1 = gf[(n * F + f1) * L:(n * F + f1 + 1) * L]
            _dots_two_filters(g0, g1, xf, n * image, 1, offs, partial[chunk], f0, f1)
    d_w = np.zeros((F, K), np.float64)
    for chunk in range(nchunks):
        d_w += partial[chunk]
    return d_w.astype(xp.dtype).reshape(F, C, KH, KW)


@kernel(parallel=True, fastmath=CONV_FASTMATH)
def _conv_dx_s1(g, w, Hp, Wp, ph, pw, dh, dw, H, W):
    N, F, L = g.shape
    C, KH, KW = w.shape[1], w.shape[2], w.shape[3]
    F4 = F - F % 4
    gf = g.reshape(N * F * L)
    d_x = np.empty((N, C, H, W), g.dtype)
    xf = d_x.reshape(N * C * H * W)
    for job in prange(N * C):  # one job = one input plane (n, c)
        n = job // C
        c = job % C
        plane = np.zeros(Hp * Wp, g.dtype)  # d_xpad[n, c], small enough for L1
        gn = n * F * L
        for i in range(KH):
            for j in range(KW):
                off = i * dh * Wp + j * dw
                dst = plane[off:off + L]
                for f in range(0, F4, 4):  # col2im: four filters per sweep
                    w0, w1, w2, w3 = w[f, c, i, j], w[f + 1, c, i, j], w[f + 2, c, i, j], w[f + 3, c, i, j]
                    q0 = gn + f * L
                    g0, g1 = gf[q0:q0 + L], gf[q0 + L:q0 + 2 * L]
                    g2, g3 = gf[q0 + 2 * L:q0 + 3 * L], gf[q0 + 3 * L:q0 + 4 * L]
                    for t in range(L):
                        dst[t] += w0 * g0[t] + w1 * g1[t] + w2 * g2[t] + w3 * g3[t]
                for f in range(F4, F):
                    w0 = w[f, c, i, j]
                    q0 = gn + f * L
                    g0 = gf[q0:q0 + L]
                    for t in range(L):
                        dst[t] += w0 * g0[t]
        r = job * H * W
        for h in range(H):  # crop the padding border
            d_row = xf[r + h * W:r + (h + 1) * W]
            s_row = plane[(h + ph) * Wp + pw:(h + ph) * Wp + pw + W]
            for v in range(W):
                d_row[v] = s_row[v]
    return d_x


# ----------------------------------------------------------------------------
# convolution backward, stride 1, on rows that run over the batch
# ----------------------------------------------------------------------------


@kernel(parallel=True, fastmath=CONV_FASTMATH)
def _conv_dw_s1_batch(gt, xt, offs, d_w):
    """Add ``d_w[f, k]`` (float64, k = tap) for the images of ``gt = d_out[:, f, p, q]``
    and ``xt = xpad`` in batch-innermost layout: for every output row p,
    ``d_w[f, k] += dot(gt[f, p], x_k)`` with ``x_k`` the tap's shifted row, OW*N long."""
    C, Hp, Wp, N = xt.shape
    F, OH, OW = gt.shape[0], gt.shape[1], gt.shape[2]
    R = OW * N
    xf = xt.reshape(C * Hp * Wp * N)
    gf = gt.reshape(F * OH * R)
    npairs = (F + 1) // 2
    for pair in prange(npairs):  # one job = two filters: no sums shared between threads
        f0 = 2 * pair
        f1 = min(f0 + 1, F - 1)
        for p in range(OH):
            g0 = gf[(f0 * OH + p) * R:(f0 * OH + p + 1) * R]
            g1 = gf[(f1 * OH + p) * R:(f1 * OH + p + 1) * R]
            # in xt every pixel holds N numbers: the tap starts move to N times offs[k]
            _dots_two_filters(g0, g1, xf, p * Wp * N, N, offs, d_w, f0, f1)


@kernel(parallel=True, fastmath=CONV_FASTMATH)
def _conv_dx_s1_batch(gt, w, Hp, Wp, ph, pw, dh, dw, d_x):
    """col2im into ``d_x`` (NCHW) from ``gt = d_out[:, f, p, q]`` in batch-innermost layout:
    each padded input row h of every image, ``acc[v*N + n]``, gathers
    ``w[f, c, i, j] * gt[f, p]`` from the output rows p = h - i*dh, shifted by j*dw pixels."""
    F, OH, OW, N = gt.shape
    C, KH, KW = w.shape[1], w.shape[2], w.shape[3]
    H, W = d_x.shape[2], d_x.shape[3]
    F4 = F - F % 4
    R = OW * N
    gf = gt.reshape(F * OH * R)
    for job in prange(C * H):  # one job = one input row (c, h) of every image
        c = job // H
        h = job % H + ph  # rows in the padding border are never needed
        acc = np.zeros(Wp * N, gt.dtype)  # acc[v*N + n] = d_xpad[n, c, h, v]
        for i in range(KH):
            p = h - i * dh
            if p < 0 or p >= OH:
                continue
            for j in range(KW):
                dst = acc[j * dw * N:j * dw * N + R]
                for f in range(0, F4, 4):  # four filters per sweep
                    w0, w1, w2, w3 = w[f, c, i, j], w[f + 1, c, i, j], w[f + 2, c, i, j], w[f + 3, c, i, j]
                    q0 = (f * OH + p) * R
                    g0, g1 = gf[q0:q0 + R], gf[q0 + OH * R:q0 + OH * R + R]
                    g2, g3 = gf[q0 + 2 * OH * R:q0 + 2 * OH * R + R], gf[q0 + 3 * OH * R:q0 + 3 * OH * R + R]
                    for t in range(R):
                        dst[t] += w0 * g0[t] + w1 * g1[t] + w2 * g2[t] + w3 * g3[t]
                for f in range(F4, F):
                    w0 = w[f, c, i, j]
                    q0 = (f * OH + p) * R
                    g0 = gf[q0:q0 + R]
                    for t in range(R):
                        dst[t] += w0 * g0[t]
        for n in range(N):  # back to NCHW, cropping the padding border
            d_row = d_x[n, c, h - ph]
            for v in range(W):
                d_row[v] = acc[(v + pw) * N + n]


# ----------------------------------------------------------------------------
# convolution, any stride: direct loops
# ----------------------------------------------------------------------------


@kernel(fastmath=CONV_FASTMATH)
def _conv_fwd_any(xp, w, b, sh, sw, dh, dw, OH, OW):
    N, C, Hp, Wp = xp.shape
    F, _, KH, KW = w.shape
    image = C * Hp * Wp
    xf = xp.reshape(N * image)
    out = np.empty((N, F, OH, OW), xp.dtype)
    of = out.reshape(N * F * OH * OW)
    for job in prange(N * F):  # one job = one output plane (n, f)
        n = job // F
        f = job % F
        acc = np.empty(OH * OW, xp.dtype)
        acc[:] = b[f]
        for c in range(C):
            for i in range(KH):
                for j in range(KW):
                    wv = w[f, c, i, j]
                    for p in range(OH):
                        row = n * image + c * Hp * Wp + (p * sh + i * dh) * Wp + j * dw
                        x_row = xf[row:row + (OW - 1) * sw + 1:sw]  # strided view
                        a_row = acc[p * OW:(p + 1) * OW]
                        for q in range(OW):
                            a_row[q] += wv * x_row[q]
        of[job * OH * OW:(job + 1) * OH * OW] = acc
    return out


@kernel(fastmath=CONV_FASTMATH)
def _conv_dw_any(d_out, xp, KH, KW, sh, sw, dh, dw, nchunks):
    N, C, Hp, Wp = xp.shape
    F, OH, OW = d_out.shape[1], d_out.shape[2], d_out.shape[3]
    image = C * Hp * Wp
    xf = xp.reshape(N * image)
    df = d_out.reshape(N * F * OH * OW)
    zero = np.zeros(1, xp.dtype)[0]
    K = C * KH * KW
    partial = np.zeros((nchunks, F, K), np.float64)
    for job in prange(nchunks * F):
        chunk = job // F
        f = job % F
        for n in range(chunk * N // nchunks, (chunk + 1) * N // nchunks):
            gd = df[(n * F + f) * OH * OW:(n * F + f + 1) * OH * OW]
            for c in range(C):
                for i in range(KH):
                    for j in range(KW):
                        s = zero
                        for p in range(OH):
                            row = n * image + c * Hp * Wp + (p * sh + i * dh) * Wp + j * dw
                            x_row = xf[row:row + (OW - 1) * sw + 1:sw]
                            g_row = gd[p * OW:(p + 1) * OW]
                            for q in range(OW):
                                s += g_row[q] * x_row[q]
                        partial[chunk, f, (c * KH + i) * KW + j] += s
    d_w = np.zeros((F, K), np.float64)
    for chunk in range(nchunks):
        d_w += partial[chunk]
    return d_w.astype(xp.dtype).reshape(F, C, KH, KW)


@kernel(fastmath=CONV_FASTMATH)
def _conv_dx_any(d_out, w, Hp, Wp, ph, pw, sh, sw, dh, dw, H, W):
    N, F, OH, OW = d_out.shape
    C, KH, KW = w.shape[1], w.shape[2], w.shape[3]
    df = d_out.reshape(N * F * OH * OW)
    d_x = np.empty((N, C, H, W), d_out.dtype)
    xf = d_x.reshape(N * C * H * W)
    for job in prange(N * C):  # one job = one input plane (n, c)
        n = job // C
        c = job % C
        plane = np.zeros(Hp * Wp, d_out.dtype)
        for f in range(F):
            gd = df[(n * F + f) * OH * OW:(n * F + f + 1) * OH * OW]
            for i in range(KH):
                for j in range(KW):
                    wv = w[f, c, i, j]
                    for p in range(OH):
                        row = (p * sh + i * dh) * Wp + j * dw
                        d_row = plane[row:row + (OW - 1) * sw + 1:sw]
                        g_row = gd[p * OW:(p + 1) * OW]
                        for q in range(OW):
                            d_row[q] += wv * g_row[q]
        r = job * H * W
        for h in range(H):  # crop the padding border
            d_row = xf[r + h * W:r + (h + 1) * W]
            s_row = plane[(h + ph) * Wp + pw:(h + ph) * Wp + pw + W]
            for v in range(W):
                d_row[v] = s_row[v]
    return d_x


# ----------------------------------------------------------------------------
# convolution: public API
# ----------------------------------------------------------------------------


#: Images per call of _conv_fwd_s1_batch: rows of OW * 64 numbers stay in L1 cache.
_BATCH_BLOCK = 64

#: The backward keeps the wide rows only where the junk is small *and* the batch rows
#: would be short (a few images).  On C1 at batch 64 the batch rows won even so
#: (0.44 -> 0.30 ms for d_w): they need no wide copy of d_out and no per-thread sums.
_SHORT_BATCH_ROW = 256


def _nchunks(n):
    return max(1, min(n, numba.get_num_threads()))


def _wide_rows_pay(OH, OW, Wp):
    """True when the wide row's junk columns are under a sixth of it (C1, not C3): then
    the batch rows' two layout copies would cost more than the junk they avoid."""
    return 5 * ((OH - 1) * Wp + OW) <= 6 * OH * OW


def _conv_backward_batch_rows(d_out, xp, w, padding, dilation, size, need_dx, need_dw):
    """Stride-1 ``(d_x, d_w)`` on rows that run over the batch, as the forward does,
    in blocks of _BATCH_BLOCK images (d_w summed over the blocks in float64)."""
    (ph, pw), (dh, dw), (H, W) = padding, dilation, size
    N, F = d_out.shape[0], w.shape[0]
    C, KH, KW = w.shape[1], w.shape[2], w.shape[3]
    d_x = np.empty((N, C, H, W), d_out.dtype) if need_dx else None
    d_w = np.zeros((F, C * KH * KW), np.float64) if need_dw else None
    Hp, Wp = H + 2 * ph, W + 2 * pw
    offs = _tap_offsets(C, Hp, Wp, KH, KW, dh, dw)
    for n0 in range(0, N, _BATCH_BLOCK):
        n1 = n0 + _BATCH_BLOCK
        gt = _batch_last(d_out[n0:n1])
        if need_dw:
            _conv_dw_s1_batch(gt, _batch_last(xp[n0:n1]), offs, d_w)
        if need_dx:
            _conv_dx_s1_batch(gt, w, Hp, Wp, ph, pw, dh, dw, d_x[n0:n1])
    if need_dw:
        d_w = d_w.astype(d_out.dtype).reshape(w.shape)
    return d_x, d_w


def conv2d_forward(x, w, b=None, stride=1, padding=0, dilation=1):
    """Same as :func:`gradgraph.kernels.reference.conv2d_forward`, fast."""
    x, w, b, _, (sh, sw), (ph, pw), (dh, dw), (OH, OW) = conv_arguments(
        x, w, b, stride, padding, dilation)
    b = np.zeros(w.shape[0], x.dtype) if b is None else b
    xp = _pad(x, ph, pw) if (ph or pw) else x
    if sh == 1 and sw == 1:
        Hp, Wp = xp.shape[2], xp.shape[3]
        offs = _tap_offsets(w.shape[1], Hp, Wp, w.shape[2], w.shape[3], dh, dw)
        if _wide_rows_pay(OH, OW, Wp):
            return _conv_fwd_s1(xp, w, b, offs, dh, dw)
        out = np.empty((x.shape[0], w.shape[0], OH, OW), x.dtype)
        for n0 in range(0, x.shape[0], _BATCH_BLOCK):  # blocks keep the rows in cache
            n1 = n0 + _BATCH_BLOCK
            _conv_fwd_s1_batch(_batch_last(xp[n0:n1]), w, b, offs, dh, dw, out[n0:n1])
        return out
    return _conv_fwd_any(xp, w, b, sh, sw, dh, dw, OH, OW)


def conv2d_backward(d_out, x, w, stride=1, padding=0, dilation=1, need_dx=True, need_dw=True):
    """Same as :func:`gradgraph.kernels.reference.conv2d_backward`, fast."""
    x, w, _, d_out, (sh, sw), (ph, pw), (dh, dw), (OH, OW) = conv_arguments(
        x, w, None, stride, padding, dilation, d_out)
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    d_b = _bias_grad(d_out)
    d_x = d_w = None
    if not (need_dx or need_dw):
        return d_x, d_w, d_b
    Hp, Wp = H + 2 * ph, W + 2 * pw
    xp = (_pad(x, ph, pw) if (ph or pw) else x) if need_dw else None
    if sh == 1 and sw == 1 and _wide_rows_pay(OH, OW, Wp) and OW * N < _SHORT_BATCH_ROW:
        g = _widen(d_out, Wp)
        if need_dw:
            offs = _tap_offsets(C, Hp, Wp, KH, KW, dh, dw)
            d_w = _conv_dw_s1(g, xp, KH, KW, offs, _nchunks(N))
        if need_dx:
            d_x = _conv_dx_s1(g, w, Hp, Wp, ph, pw, dh, dw, H, W)
    elif sh == 1 and sw == 1:
        d_x, d_w = _conv_backward_batch_rows(d_out, xp, w, (ph, pw), (dh, dw), (H, W), need_dx, need_dw)
    else:
        if need_dw:
            d_w = _conv_dw_any(d_out, xp, KH, KW, sh, sw, dh, dw, _nchunks(N))
        if need_dx:
            d_x = _conv_dx_any(d_out, w, Hp, Wp, ph, pw, sh, sw, dh, dw, H, W)
    return d_x, d_w, d_b


# ----------------------------------------------------------------------------
# pooling
# ----------------------------------------------------------------------------


# Max pooling has a general kernel and one for LeNet's 2x2 windows at stride 2
# (branch-free, about 2x faster).  Each average-pooling kernel is built by a
# factory: ``KH, KW = 0, 0`` gives the general kernel (window size from the
# arguments); a fixed size such as 2x2 gives a copy in which the window loops have
# constant trip counts, which LLVM unrolls (about 3x faster for 2x2 pools).  Only
# sizes in _POOL_SIZES get a special copy.  The constant must be read *inside* the
# prange body (khc, kwc): the body is compiled as a separate function, and values
# from outside arrive as arguments.
_POOL_SIZES = ((2, 2),)


@kernel()
def _max_pool_fwd(x, kh, kw, sh, sw, ph, pw, OH, OW):
    N, C, H, W = x.shape
    xf = x.reshape(N * C * H * W)
    out = np.empty((N, C, OH, OW), x.dtype)
    arg = np.empty((N, C, OH, OW), np.int32)
    of = out.reshape(N * C * OH * OW)
    af = arg.reshape(N * C * OH * OW)
    for nc in prange(N * C):
        src = xf[nc * H * W:(nc + 1) * H * W]
        r = nc * OH * OW
        for p in range(OH):
            h0 = p * sh - ph
            for q in range(OW):
                v0 = q * sw - pw
                best = src[0]
                at = -1
                for i in range(kh):
                    h = h0 + i
                    if h < 0 or h >= H:
                        continue  # -inf padding never wins
                    s_row = src[h * W:(h + 1) * W]
                    for j in range(kw):
                        v = v0 + j
                        if v < 0 or v >= W:
                            continue
                        val = s_row[v]
                        # strict '>' keeps the first maximum; a NaN wins (the first
                        # one).  Bitwise '|', '&': no short-circuit branches.
                        if (at < 0) | (val > best) | ((val != val) & (best == best)):
                            best = val
                            at = h * W + v
                of[r + p * OW + q] = best
                af[r + p * OW + q] = at
    return out, arg


@kernel()
def _max_pool_fwd_2x2(x):
    """LeNet's pool: 2x2 windows, stride 2, no padding (a last odd row or column is left out).

    The same result as ``_max_pool_fwd``, without branches: the first maximum of each
    pair of a row, then the first of the two rows' winners (the first maximum of the
    four in row-major order either way). ``winner = (best == best) & ~(v <= best)``
    is "v > best, or v is the first NaN".
    """
    N, C, H, W = x.shape
    OH, OW = H // 2, W // 2
    xf = x.reshape(N * C * H * W)
    out = np.empty((N, C, OH, OW), x.dtype)
    arg = np.empty((N, C, OH, OW), np.int32)
    of = out.reshape(N * C * OH * OW)
    af = arg.reshape(N * C * OH * OW)
    for nc in range(N * C):
        base, r = nc * H * W, nc * OH * OW
        for p in range(OH):
            top = base + 2 * p * W  # the window's top row
            for q in range(OW):
                i = top + 2 * q
                a, b, c, d = xf[i], xf[i + 1], xf[i + W], xf[i + W + 1]
                k1 = (a == a) & ~(b <= a)        # the top row's winner
                m1 = b if k1 else a
                j1 = 1 if k1 else 0
                k2 = (c == c) & ~(d <= c)        # the bottom row's
                m2 = d if k2 else c
                j2 = W + 1 if k2 else W
                k = (m1 == m1) & ~(m2 <= m1)     # the window's
                of[r + p * OW + q] = m2 if k else m1
                af[r + p * OW + q] = i - base + (j2 if k else j1)
    return out, arg


def _make_avg_pool_fwd(KH, KW):
    @kernel()
    def _avg_pool_fwd(x, kh, kw, sh, sw, ph, pw, OH, OW):
        N, C, H, W = x.shape
        xf = x.reshape(N * C * H * W)
        out = np.empty((N, C, OH, OW), x.dtype)
        of = out.reshape(N * C * OH * OW)
        zero = np.zeros(1, x.dtype)[0]
        scale = 1.0 / (kh * kw)  # zero padding counts in the divisor
        for nc in prange(N * C):
            khc = KH if KH > 0 else kh  # a constant in the specialised copies
            kwc = KW if KW > 0 else kw
            src = xf[nc * H * W:(nc + 1) * H * W]
            r = nc * OH * OW
            for p in range(OH):
                h0 = p * sh - ph
                for q in range(OW):
                    v0 = q * sw - pw
                    s = zero
                    for i in range(khc):
                        h = h0 + i
                        if h < 0 or h >= H:
                            continue
                        s_row = src[h * W:(h + 1) * W]
                        for j in range(kwc):
                            v = v0 + j
                            if 0 <= v < W:
                                s += s_row[v]
                    of[r + p * OW + q] = s * scale
        return out

    return _avg_pool_fwd


def _make_avg_pool_bwd(KH, KW):
    @kernel()
    def _avg_pool_bwd(d_out, kh, kw, sh, sw, ph, pw, H, W):
        N, C, OH, OW = d_out.shape
        d_x = np.zeros((N, C, H, W), d_out.dtype)
        xf = d_x.reshape(N * C * H * W)
        df = d_out.reshape(N * C * OH * OW)
        scale = 1.0 / (kh * kw)
        for nc in prange(N * C):
            khc = KH if KH > 0 else kh  # a constant in the specialised copies
            kwc = KW if KW > 0 else kw
            dst = xf[nc * H * W:(nc + 1) * H * W]
            r = nc * OH * OW
            for p in range(OH):
                h0 = p * sh - ph
                for q in range(OW):
                    v0 = q * sw - pw
                    share = df[r + p * OW + q] * scale
                    for i in range(khc):
                        h = h0 + i
                        if h < 0 or h >= H:
                            continue
                        d_row = dst[h * W:(h + 1) * W]
                        for j in range(kwc):
                            v = v0 + j
                            if 0 <= v < W:
                                d_row[v] += share
        return d_x

    return _avg_pool_bwd


_avg_pool_fwd = {size: _make_avg_pool_fwd(*size) for size in ((0, 0),) + _POOL_SIZES}
_avg_pool_bwd = {size: _make_avg_pool_bwd(*size) for size in ((0, 0),) + _POOL_SIZES}


def _pick(kernels, kh, kw):
    return kernels.get((kh, kw), kernels[(0, 0)])


@kernel()
def _max_pool_bwd(d_out, arg, H, W):
    N, C, OH, OW = d_out.shape
    d_x = np.zeros((N, C, H, W), d_out.dtype)
    xf = d_x.reshape(N * C * H * W)
    df = d_out.reshape(N * C * OH * OW)
    af = arg.reshape(N * C * OH * OW)
    for nc in prange(N * C):
        dst = xf[nc * H * W:(nc + 1) * H * W]
        for t in range(nc * OH * OW, (nc + 1) * OH * OW):
            dst[af[t]] += df[t]
    return d_x


def _pool_setup(x, kernel, stride, padding, name):
    kernel, stride, padding = pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(np.shape(x), kernel, stride, padding, name)
    return float_array(x), kernel, stride, padding, OH, OW


def max_pool2d_forward(x, kernel, stride=None, padding=0):
    """Same as :func:`gradgraph.kernels.reference.max_pool2d_forward`, fast."""
    x, (kh, kw), (sh, sw), (ph, pw), OH, OW = _pool_setup(x, kernel, stride, padding, "max_pool2d")
    if is_lenet_pool((kh, kw), (sh, sw), (ph, pw)):
        return _max_pool_fwd_2x2(x)
    return _max_pool_fwd(x, kh, kw, sh, sw, ph, pw, OH, OW)


def max_pool2d_backward(d_out, argmax, x_shape, kernel, stride=None, padding=0):
    """Same as :func:`gradgraph.kernels.reference.max_pool2d_backward`, fast."""
    kernel, stride, padding = pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(x_shape, kernel, stride, padding, "max_pool2d")
    N, C, H, W = x_shape
    d_out = float_array(d_out)
    check_grad_shape(d_out, (N, C, OH, OW), "max_pool2d_backward")
    check_grad_shape(argmax, (N, C, OH, OW), "max_pool2d_backward (argmax)")
    argmax = np.ascontiguousarray(argmax, ARGMAX_DTYPE)
    return _max_pool_bwd(d_out, argmax, H, W)


def avg_pool2d_forward(x, kernel, stride=None, padding=0):
    """Same as :func:`gradgraph.kernels.reference.avg_pool2d_forward`, fast."""
    x, (kh, kw), (sh, sw), (ph, pw), OH, OW = _pool_setup(x, kernel, stride, padding, "avg_pool2d")
    return _pick(_avg_pool_fwd, kh, kw)(x, kh, kw, sh, sw, ph, pw, OH, OW)


def avg_pool2d_backward(d_out, x_shape, kernel, stride=None, padding=0):
    """Same as :func:`gradgraph.kernels.reference.avg_pool2d_backward`, fast."""
    (kh, kw), (sh, sw), (ph, pw) = pool_params(kernel, stride, padding)
    OH, OW = check_pool_shapes(x_shape, (kh, kw), (sh, sw), (ph, pw), "avg_pool2d")
    N, C, H, W = x_shape
    d_out = float_array(d_out)
    check_grad_shape(d_out, (N, C, OH, OW), "avg_pool2d_backward")
    return _pick(_avg_pool_bwd, kh, kw)(d_out, kh, kw, sh, sw, ph, pw, H, W)


# ----------------------------------------------------------------------------
# compile tasks: the unit the background compiler works in (see compiler.py)
# ----------------------------------------------------------------------------


#: The Numba functions each (public function, variant) runs.
TASK_KERNELS = {
    ("conv2d_forward", "stride 1"): (_pad, _tap_offsets, _conv_fwd_s1, _batch_last, _conv_fwd_s1_batch),
    ("conv2d_forward", "strided"): (_pad, _conv_fwd_any),
    ("conv2d_backward", "stride 1"): (_pad, _bias_grad, _widen, _tap_offsets, _conv_dw_s1, _conv_dx_s1,
                                      _batch_last, _conv_dw_s1_batch, _conv_dx_s1_batch),
    ("conv2d_backward", "strided"): (_pad, _bias_grad, _conv_dw_any, _conv_dx_any),
    ("max_pool2d_forward", "2x2 stride 2"): (_max_pool_fwd_2x2,),
    ("max_pool2d_forward", "any"): (_max_pool_fwd,),
    ("max_pool2d_backward", "any"): (_max_pool_bwd,),
    ("avg_pool2d_forward", "2x2"): (_avg_pool_fwd[(2, 2)],),
    ("avg_pool2d_forward", "any"): (_avg_pool_fwd[(0, 0)],),
    ("avg_pool2d_backward", "2x2"): (_avg_pool_bwd[(2, 2)],),
    ("avg_pool2d_backward", "any"): (_avg_pool_bwd[(0, 0)],),
}


def all_tasks(dtypes=("float32", "float64")):
    """Every task: ``(function, variant, dtype)``, conv backward in its three flavours."""
    tasks = []
    for dtype in dtypes:
        for op, variant in TASK_KERNELS:
            if op == "conv2d_backward":
                tasks += [(op, variant + grads, dtype) for grads in (", d_x, d_w", ", d_w", ", d_x")]
            else:
                tasks.append((op, variant, dtype))
    return tasks


def _kernels_of(task):
    op, variant, _ = task
    return TASK_KERNELS[(op, variant.split(",")[0])]


def compile_task(task):
    """Compile (or load from the disk cache) what ``task`` needs, by running it on tiny inputs.

    The tiny run uses one thread: a parallel loop started from the compiler thread
    would give that thread a second OpenMP worker team, idle but competing with
    the one the computing thread uses.
    """
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        _run_tiny(task)
    finally:
        numba.set_num_threads(threads)


def _run_tiny(task):
    op, variant, dtype = task
    rng = np.random.default_rng(0)
    x = rng.standard_normal((2, 2, 6, 6)).astype(dtype)
    w = rng.standard_normal((3, 2, 3, 3)).astype(dtype)
    stride = 1 if variant.startswith("stride 1") else 2
    kernel = 2 if variant.startswith("2x2") else 3
    if op == "conv2d_forward":
        conv2d_forward(x, w, w[:, 0, 0, 0].copy(), stride, 1, 1)
        if stride == 1:  # a 1x1 kernel has no junk columns: the wide-row forward
            conv2d_forward(x, np.ascontiguousarray(w[:, :, :1, :1]), w[:, 0, 0, 0].copy(), 1, 1, 1)
    elif op == "conv2d_backward":
        d_out = np.ones((2, 3) + check_conv_shapes(x.shape, w.shape, None, stride, 1, 1), dtype)
        need = dict(need_dx="d_x" in variant, need_dw="d_w" in variant)
        conv2d_backward(d_out, x, w, stride, 1, 1, **need)
        if stride == 1:  # as in the forward: the 1x1 kernel takes the wide rows
            w1 = np.ascontiguousarray(w[:, :, :1, :1])
            conv2d_backward(np.ones((2, 3, 8, 8), dtype), x, w1, 1, 1, 1, **need)
    elif op == "max_pool2d_forward":
        max_pool2d_forward(x, kernel, 2, 0 if variant == "2x2 stride 2" else 1)
    elif op == "max_pool2d_backward":
        d_out = np.ones((2, 2, 3, 3), dtype)
        max_pool2d_backward(d_out, np.zeros(d_out.shape, ARGMAX_DTYPE), x.shape, 2, 2, 0)
    elif op == "avg_pool2d_forward":
        avg_pool2d_forward(x, kernel, 2, 1)
    elif op == "avg_pool2d_backward":
        d_out = np.ones((2, 2) + check_pool_shapes(x.shape, kernel, 2, 1), dtype)
        avg_pool2d_backward(d_out, x.shape, kernel, 2, 1)
    else:
        raise ValueError(f"unknown kernel task {task!r}")


def is_cached(task) -> bool:
    """True if ``task`` needs no compiling: in memory, or in Numba's disk cache."""
    return all(kernel_is_warm(k, (task[2],)) for k in _kernels_of(task))


compile_task.is_cached = is_cached
