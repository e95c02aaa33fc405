package org.ntk4j.ntk;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import org.ntk4j.cpu.Parallel;
import org.ntk4j.tensor.Tensor;

/** The last step of structured derivatives' Gram order: the Hadamard product of GA and GD summed over positions. */
final class GramCombine {
    private GramCombine() {
    }

    /**
     * acc[n1, o1, n2, o2] += s2 · Σ_{r1,r2} ga[n1,r1,n2,r2] · gd[n1,o1,r1,n2,o2,r2] (o = 1: the traced form, acc
     * [N1, N2]), rows (n1, o1) split across cores; each element is computed the same way wherever it lies. For
     * R = 1 it is evaluated as acc += (s2·ga[n1,n2])·gd, the coefficients (s2·ga) spread over a row once per n1
     * so that the row is one flat multiply-add loop (O, its inner length, is often a handful). With {@code upper}
     * (a side with itself, N1 = N2) only the blocks n2 ≥ n1 are accumulated, and gd is read only there (its upper
     * triangle and the example diagonal's squares, {@code DotGeneralKernel.gram} with blocks of O·R); the blocks
     * below are left as they are, for the kernel's final mirror.
     */
    static void combine(Tensor acc, double s2, Tensor ga, Tensor gd, int n1, int o, int r, int n2, boolean upper) {
        int rowLen = n2 * o; // acc elements per (n1, o1)
        int gdRow = r * n2 * o * r; // gd elements per (n1, o1)
        int grain = Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, rowLen * r * r));
        if (acc.dtype() == org.ntk4j.tensor.DType.F32) {
            FloatBuffer k = acc.floats();
            FloatBuffer a = ga.floats();
            FloatBuffer d = gd.floats();
            float s = (float) s2;
            Parallel.range(n1 * o, grain, (lo, hi) -> {
                // dense layers (R = 1): GA is one scalar per pair of examples; each row goes through heap
                // arrays (bulk copies) so that the loop over it is a plain, vectorisable array loop
                float[] kRow = r == 1 ? new float[rowLen] : null;
                float[] dRow = r == 1 ? new float[rowLen] : null;
                float[] coef = r == 1 ? new float[rowLen] : null;
                int coefFor = -1;
                for (int row = lo; row < hi; row++) {
                    int i1 = row / o;
                    int kBase = row * rowLen;
                    int dBase = row * gdRow;
                    if (r == 1) {
                        if (coefFor != i1) {
                            for (int j2 = 0; j2 < n2; j2++) {
                                java.util.Arrays.fill(coef, j2 * o, (j2 + 1) * o, s * a.get(i1 * n2 + j2));
                            }
                            coefFor = i1;
                        }
                        int from = upper ? i1 * o : 0; // the columns of the examples n2 ≥ n1
                        k.get(kBase + from, kRow, from, rowLen - from);
                        d.get(dBase + from, dRow, from, rowLen - from);
                        for (int q = from; q < rowLen; q++) {
                            kRow[q] += coef[q] * dRow[q];
                        }
                        k.put(kBase + from, kRow, from, rowLen - from);
                        continue;
                    }
                    for (int j2 = upper ? i1 : 0; j2 < n2; j2++) {
                        for (int q = 0; q < o; q++) {
                            float sum = 0;
                            for (int r1 = 0; r1 < r; r1++) {
                                int aOff = ((i1 * r + r1) * n2 + j2) * r;
                                int dOff = dBase + r1 * (n2 * o * r) + (j2 * o + q) * r;
                                for (int r2 = 0; r2 < r; r2++) {
                                    sum += a.get(aOff + r2) * d.get(dOff + r2);
                                }
                            }
                            int kOff = kBase + j2 * o + q;
                            k.put(kOff, k.get(kOff) + s * sum);
                        }
                    }
                }
            });
            return;
        }
        DoubleBuffer k = acc.doubles();
        DoubleBuffer a = ga.doubles();
        DoubleBuffer d = gd.doubles();
        Parallel.range(n1 * o, grain, (lo, hi) -> {
            double[] kRow = r == 1 ? new double[rowLen] : null;
            double[] dRow = r == 1 ? new double[rowLen] : null;
            double[] coef = r == 1 ? new double[rowLen] : null;
            int coefFor = -1;
            for (int row = lo; row < hi; row++) {
                int i1 = row / o;
                int kBase = row * rowLen;
                int dBase = row * gdRow;
                if (r == 1) {
                    if (coefFor != i1) {
                        for (int j2 = 0; j2 < n2; j2++) {
                            java.util.Arrays.fill(coef, j2 * o, (j2 + 1) * o, s2 * a.get(i1 * n2 + j2));
                        }
                        coefFor = i1;
                    }
                    int from = upper ? i1 * o : 0;
                    k.get(kBase + from, kRow, from, rowLen - from);
                    d.get(dBase + from, dRow, from, rowLen - from);
                    for (int q = from; q < rowLen; q++) {
                        kRow[q] += coef[q] * dRow[q];
                    }
                    k.put(kBase + from, kRow, from, rowLen - from);
                    continue;
                }
                for (int j2 = upper ? i1 : 0; j2 < n2; j2++) {
                    for (int q = 0; q < o; q++) {
                        double sum = 0;
                        for (int r1 = 0; r1 < r; r1++) {
                            int aOff = ((i1 * r + r1) * n2 + j2) * r;
                            int dOff = dBase + r1 * (n2 * o * r) + (j2 * o + q) * r;
                            for (int r2 = 0; r2 < r; r2++) {
                                sum += a.get(aOff + r2) * d.get(dOff + r2);
                            }
                        }
                        int kOff = kBase + j2 * o + q;
                        k.put(kOff, k.get(kOff) + s2 * sum);
                    }
                }
            }
        });
    }
    /**
     * The per-output diagonal: acc[n1, n2, o] += s2 · Σ_{r1,r2} ga[n1,r1,n2,r2] · gd[o,n1,r1,n2,r2] (acc [N1, N2,
     * O], gd one Gram per output), rows n1 split across cores, each element computed the same way wherever it lies.
     * With {@code upper} (a side with itself) only n2 ≥ n1 are accumulated, and gd read only there (the upper
     * triangles and [R] squares of {@code DotGeneralKernel.gram} with blocks of R); the rest is left for the
     * kernel's final mirror.
     */
    static void combinePerOutput(Tensor acc, double s2, Tensor ga, Tensor gd, int n1, int o, int r, int n2,
                                 boolean upper) {
        long gdOutput = (long) n1 * r * n2 * r; // gd elements per output
        int grain = Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, n2 * o * r * r));
        boolean f32 = acc.dtype() == org.ntk4j.tensor.DType.F32;
        FloatBuffer kf = f32 ? acc.floats() : null;
        FloatBuffer af = f32 ? ga.floats() : null;
        FloatBuffer df = f32 ? gd.floats() : null;
        DoubleBuffer kd = f32 ? null : acc.doubles();
        DoubleBuffer ad = f32 ? null : ga.doubles();
        DoubleBuffer dd = f32 ? null : gd.doubles();
        Parallel.range(n1, grain, (lo, hi) -> {
            for (int i1 = lo; i1 < hi; i1++) {
                for (int j2 = upper ? i1 : 0; j2 < n2; j2++) {
                    for (int q = 0; q < o; q++) {
                        double sum = 0;
                        for (int r1 = 0; r1 < r; r1++) {
                            int aOff = ((i1 * r + r1) * n2 + j2) * r;
                            int dOff = (int) (q * gdOutput) + aOff;
                            for (int r2 = 0; r2 < r; r2++) {
                                sum += f32 ? (double) af.get(aOff + r2) * df.get(dOff + r2)
                                        : ad.get(aOff + r2) * dd.get(dOff + r2);
                            }
                        }
                        int kOff = (i1 * n2 + j2) * o + q;
                        if (f32) {
                            kf.put(kOff, (float) (kf.get(kOff) + s2 * sum));
                        } else {
                            kd.put(kOff, kd.get(kOff) + s2 * sum);
                        }
                    }
                }
            }
        });
    }

    /**
     * Each example with itself: acc[n, o1, o2] += s2 · Σ_{r1,r2} ga[n,r1,r2] · gd[n,o1,r1,o2,r2] (acc [N, O, O],
     * ga [N, R, R], gd [N, O, R, O, R]), examples split across cores, each element computed the same way wherever
     * it lies (sums in double).
     */
    static void combinePerExample(Tensor acc, double s2, Tensor ga, Tensor gd, int n, int o, int r) {
        int gdExample = o * r * o * r; // gd elements per example
        int grain = Math.max(1, Parallel.DEFAULT_GRAIN / Math.max(1, gdExample));
        boolean f32 = acc.dtype() == org.ntk4j.tensor.DType.F32;
        FloatBuffer kf = f32 ? acc.floats() : null;
        FloatBuffer af = f32 ? ga.floats() : null;
        FloatBuffer df = f32 ? gd.floats() : null;
        DoubleBuffer kd = f32 ? null : acc.doubles();
        DoubleBuffer ad = f32 ? null : ga.doubles();
        DoubleBuffer dd = f32 ? null : gd.doubles();
        Parallel.range(n, grain, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                int aBase = i * r * r;
                int dBase = i * gdExample;
                for (int q1 = 0; q1 < o; q1++) {
                    for (int q2 = 0; q2 < o; q2++) {
                        double sum = 0;
                        for (int r1 = 0; r1 < r; r1++) {
                            int aOff = aBase + r1 * r;
                            int dOff = dBase + (q1 * r + r1) * o * r + q2 * r;
                            for (int r2 = 0; r2 < r; r2++) {
                                sum += f32 ? (double) af.get(aOff + r2) * df.get(dOff + r2)
                                        : ad.get(aOff + r2) * dd.get(dOff + r2);
                            }
                        }
                        int kOff = (i * o + q1) * o + q2;
                        if (f32) {
                            kf.put(kOff, (float) (kf.get(kOff) + s2 * sum));
                        } else {
                            kd.put(kOff, kd.get(kOff) + s2 * sum);
                        }
                    }
                }
            }
        });
    }
}
