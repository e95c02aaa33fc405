package org.ntk4j.ntk;

import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import org.ntk4j.cpu.Parallel;
import org.ntk4j.tensor.Tensor;

/** The last step of structured derivatives' Gram order: the Hadamard product of GA and GD summed over positions. */
final class GramCombine {
    /** The R from which the float32 form copies its operands to heap arrays (see {@link #combine}). */
    private static final int COPY_FROM_R = 16;

    private GramCombine() {
    }

    /**
     * acc[n1, o1, n2, o2] += s2 · Σ_{r1,r2} ga[n1,r1,n2,r2] · gd[n1,o1,r1,n2,o2,r2] (o = 1: the traced form, acc
     * [N1, N2]), rows (n1, o1) split across cores; each element is computed the same way wherever it lies. For
     * R = 1 it is evaluated as acc += (s2·ga[n1,n2])·gd, the coefficients (s2·ga) spread over a row once per n1
     * so that the row is one flat multiply-add loop (O, its inner length, is often a handful). With {@code upper}
     * (a side with itself, N1 = N2) only the blocks n2 ≥ n1 are accumulated, and gd is read only there (its upper
     * triangle and the example diagonal's squares, {@code DotGeneralKernel.gram} with blocks of O·R); the blocks
     * below are left as they are, for the kernel's final mirror. For R &gt; 1 each element's R² products are
     * summed in double (in float32 too), then added to acc.
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
                // R > 1: one r1's GA values, its GD values for every q, each element's sum
                float[] aRow = r >= COPY_FROM_R ? new float[r] : null;
                float[] dRows = r >= COPY_FROM_R ? new float[o * r] : null;
                double[] sums = r >= COPY_FROM_R ? new double[o] : null;
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
                    // the R² products of an element are summed in double, as combinePerOutput and
                    // combinePerExample do: a float sum of R² terms (65,536 at R = 256) drifts by about
                    // √(R²/3)·2⁻²⁴ relative, far above the error of the float32 GEMMs that formed GA and GD. From
                    // R = 16 on, per r1, GA's R values and GD's O·R (one block for every q) go through heap arrays
                    // and each dot product keeps eight sums in flight (as fast as the float loop it replaced, or
                    // faster); below, the copies would cost more than they save
                    if (r < COPY_FROM_R) {
                        for (int j2 = upper ? i1 : 0; j2 < n2; j2++) {
                            for (int q = 0; q < o; q++) {
                                double sum = 0;
                                for (int r1 = 0; r1 < r; r1++) {
                                    int aOff = ((i1 * r + r1) * n2 + j2) * r;
                                    int dOff = dBase + r1 * (n2 * o * r) + (j2 * o + q) * r;
                                    for (int r2 = 0; r2 < r; r2++) {
                                        sum += (double) a.get(aOff + r2) * d.get(dOff + r2);
                                    }
                                }
                                int kOff = kBase + j2 * o + q;
                                k.put(kOff, (float) (k.get(kOff) + s2 * sum));
                            }
                        }
                        continue;
                    }
                    for (int j2 = upper ? i1 : 0; j2 < n2; j2++) {
                        java.util.Arrays.fill(sums, 0);
                        for (int r1 = 0; r1 < r; r1++) {
                            a.get(((i1 * r + r1) * n2 + j2) * r, aRow, 0, r);
                            d.get(dBase + r1 * (n2 * o * r) + j2 * o * r, dRows, 0, o * r);
                            for (int q = 0; q < o; q++) {
                                sums[q] += dot(aRow, dRows, q * r, r);
                            }
                        }
                        for (int q = 0; q < o; q++) {
                            int kOff = kBase + j2 * o + q;
                            k.put(kOff, (float) (k.get(kOff) + s2 * sums[q]));
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
     * Σ_i x[i]·y[yOff + i] over n terms, each product exact in double, in eight interleaved partial sums (one sum
     * waits on each add: the float loop it replaced ran as fast only with several in flight).
     */
    private static double dot(float[] x, float[] y, int yOff, int n) {
        double s0 = 0;
        double s1 = 0;
        double s2 = 0;
        double s3 = 0;
        double s4 = 0;
        double s5 = 0;
        double s6 = 0;
        double s7 = 0;
        int i = 0;
        for (; i + 7 < n; i += 8) {
            s0 += (double) x[i] * y[yOff + i];
            s1 += (double) x[i + 1] * y[yOff + i + 1];
            s2 += (double) x[i + 2] * y[yOff + i + 2];
            s3 += (double) x[i + 3] * y[yOff + i + 3];
            s4 += (double) x[i + 4] * y[yOff + i + 4];
            s5 += (double) x[i + 5] * y[yOff + i + 5];
            s6 += (double) x[i + 6] * y[yOff + i + 6];
            s7 += (double) x[i + 7] * y[yOff + i + 7];
        }
        for (; i < n; i++) {
            s0 += (double) x[i] * y[yOff + i];
        }
        return ((s0 + s1) + (s2 + s3)) + ((s4 + s5) + (s6 + s7));
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
        Views v = new Views(acc, ga, gd);
        Parallel.range(n1, grain, (lo, hi) -> {
            for (int i1 = lo; i1 < hi; i1++) {
                for (int j2 = upper ? i1 : 0; j2 < n2; j2++) {
                    for (int q = 0; q < o; q++) {
                        double sum = 0;
                        for (int r1 = 0; r1 < r; r1++) {
                            int aOff = ((i1 * r + r1) * n2 + j2) * r;
                            sum += v.dot(aOff, (int) (q * gdOutput) + aOff, r);
                        }
                        v.add((i1 * n2 + j2) * o + q, s2 * sum);
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
        Views v = new Views(acc, ga, gd);
        Parallel.range(n, grain, (lo, hi) -> {
            for (int i = lo; i < hi; i++) {
                int aBase = i * r * r;
                int dBase = i * gdExample;
                for (int q1 = 0; q1 < o; q1++) {
                    for (int q2 = 0; q2 < o; q2++) {
                        double sum = 0;
                        for (int r1 = 0; r1 < r; r1++) {
                            sum += v.dot(aBase + r1 * r, dBase + (q1 * r + r1) * o * r + q2 * r, r);
                        }
                        v.add((i * o + q1) * o + q2, s2 * sum);
                    }
                }
            }
        });
    }

    /** The accumulator, GA and GD as float or double buffers, for the combinations that sum in double. */
    private static final class Views {
        private final boolean f32;
        private final FloatBuffer kf;
        private final FloatBuffer af;
        private final FloatBuffer df;
        private final DoubleBuffer kd;
        private final DoubleBuffer ad;
        private final DoubleBuffer dd;

        Views(Tensor acc, Tensor ga, Tensor gd) {
            f32 = acc.dtype() == org.ntk4j.tensor.DType.F32;
            kf = f32 ? acc.floats() : null;
            af = f32 ? ga.floats() : null;
            df = f32 ? gd.floats() : null;
            kd = f32 ? null : acc.doubles();
            ad = f32 ? null : ga.doubles();
            dd = f32 ? null : gd.doubles();
        }

        /** Σ_{i &lt; len} ga[a + i]·gd[d + i], in double. */
        double dot(int a, int d, int len) {
            double sum = 0;
            for (int i = 0; i < len; i++) {
                sum += f32 ? (double) af.get(a + i) * df.get(d + i) : ad.get(a + i) * dd.get(d + i);
            }
            return sum;
        }

        /** acc[k] += value. */
        void add(int k, double value) {
            if (f32) {
                kf.put(k, (float) (kf.get(k) + value));
            } else {
                kd.put(k, kd.get(k) + value);
            }
        }
    }
}
