package org.ntk4j.infinite;

import java.util.ArrayList;
import java.util.List;
import java.util.function.Function;

/**
 * A test-side oracle of the infinite-width limit on images, written out on full maps K[i][j][p][q] over the pairs of
 * pixels ((i, j) of the first example, (p, q) of the second) with plain loops, independently of {@link PixelPairs}:
 * a conv sums the map at the same filter offset of both pixels, K' = σ_w²/(kh·kw) Σ_δ K[s·o + δ − pad, s·o' + δ −
 * pad] + σ_b² (zero outside the image), Θ' = K' + σ_w²/(kh·kw) Σ_δ Θ[...] (NTK) or C·Σ_δ K[...] + [b] + ... (standard,
 * C input channels); an avg_pool averages over every pair of the two windows' pixels, with the divisor the window's
 * size or (without count_include_pad) the pixels it covers, counted one by one; relu takes the arc-cosine kernels
 * per pixel pair with the examples' own variances; a concatenation averages the branches weighted by their channels.
 * One pass per pair of examples; the own pass of (x, x) records each relu's variances K[i][j][i][j] for the cross
 * pass.
 */
final class MapOracle {
    private final double w2;
    private final double b2;
    private final boolean std;
    private double[][][][] k;
    private double[][][][] t;
    private int c;
    /** The normalisations' scales γ since the last conv: each adds the units' own u·v to Θ (relu: J₁ after it). */
    private int gammas;
    private final List<double[][]> ownA;
    private final List<double[][]> ownB;
    private final List<double[][]> seen;

    private MapOracle(double wStd, double bStd, boolean std, List<double[][]> ownA, List<double[][]> ownB,
                      List<double[][]> seen) {
        this.w2 = wStd * wStd;
        this.b2 = bStd * bStd;
        this.std = std;
        this.ownA = ownA;
        this.ownB = ownB;
        this.seen = seen;
    }

    /**
     * {K, Θ} of the network {@code net} (a sequence of this oracle's steps ending in a readout) for examples x and y
     * ([H][W][C] each), every layer with σ_w = wStd, σ_b = bStd, in the NTK or standard parameterisation.
     */
    static double[] pair(double[][][] x, double[][][] y, double wStd, double bStd, boolean std,
                         Function<MapOracle, double[]> net) {
        MapOracle a = start(x, x, wStd, bStd, std, null, null);
        net.apply(a);
        MapOracle b = start(y, y, wStd, bStd, std, null, null);
        net.apply(b);
        return net.apply(start(x, y, wStd, bStd, std, a.seen, b.seen));
    }

    private static MapOracle start(double[][][] x, double[][][] y, double wStd, double bStd, boolean std,
                                   List<double[][]> ownA, List<double[][]> ownB) {
        MapOracle m = new MapOracle(wStd, bStd, std, ownA, ownB, new ArrayList<>());
        int h = x.length;
        int w = x[0].length;
        m.c = x[0][0].length;
        m.k = new double[h][w][h][w];
        m.t = new double[h][w][h][w];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                for (int p = 0; p < h; p++) {
                    for (int q = 0; q < w; q++) {
                        double s = 0;
                        for (int ch = 0; ch < m.c; ch++) {
                            s += x[i][j][ch] * y[p][q][ch];
                        }
                        m.k[i][j][p][q] = s / m.c;
                    }
                }
            }
        }
        return m;
    }

    /** A copy of this state, for another branch after a fan_out (the same record of own variances). */
    MapOracle copy() {
        MapOracle m = new MapOracle(Math.sqrt(w2), Math.sqrt(b2), std, ownA, ownB, seen);
        m.k = deepCopy(k);
        m.t = deepCopy(t);
        m.c = c;
        m.gammas = gammas;
        return m;
    }

    private static double[][][][] deepCopy(double[][][][] a) {
        double[][][][] r = new double[a.length][a[0].length][a.length][a[0].length];
        for (int i = 0; i < a.length; i++) {
            for (int j = 0; j < a[0].length; j++) {
                for (int p = 0; p < a.length; p++) {
                    r[i][j][p] = a[i][j][p].clone();
                }
            }
        }
        return r;
    }

    private static double at(double[][][][] m, int i, int j, int p, int q) {
        int h = m.length;
        int w = m[0].length;
        return i < 0 || i >= h || j < 0 || j >= w || p < 0 || p >= h || q < 0 || q >= w ? 0 : m[i][j][p][q];
    }

    /** conv(n, kh × kw, strides (sh, sw), zero padding {{top, bottom}, {left, right}}). */
    MapOracle conv(int n, int kh, int kw, int sh, int sw, int[][] pad) {
        int h = k.length;
        int w = k[0].length;
        int oh = (h + pad[0][0] + pad[0][1] - kh) / sh + 1;
        int ow = (w + pad[1][0] + pad[1][1] - kw) / sw + 1;
        double[][][][] nk = new double[oh][ow][oh][ow];
        double[][][][] nt = new double[oh][ow][oh][ow];
        double taps = kh * kw;
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
                for (int p = 0; p < oh; p++) {
                    for (int q = 0; q < ow; q++) {
                        double sk = 0;
                        double st = 0;
                        for (int a = 0; a < kh; a++) {
                            for (int b = 0; b < kw; b++) {
                                int i1 = i * sh + a - pad[0][0];
                                int j1 = j * sw + b - pad[1][0];
                                int p1 = p * sh + a - pad[0][0];
                                int q1 = q * sw + b - pad[1][0];
                                sk += at(k, i1, j1, p1, q1);
                                st += at(t, i1, j1, p1, q1);
                            }
                        }
                        nk[i][j][p][q] = w2 / taps * sk + b2;
                        nt[i][j][p][q] = (std ? c * sk + (b2 != 0 ? 1 : 0) : nk[i][j][p][q]) + w2 / taps * st;
                    }
                }
            }
        }
        k = nk;
        t = nt;
        c = n;
        gammas = 0;
        return this;
    }

    /** avg_pool(kh × kw, strides (sh, sw), zero padding {{top, bottom}, {left, right}}, count_include_pad). */
    MapOracle pool(int kh, int kw, int sh, int sw, int[][] pad, boolean countIncludePad) {
        int h = k.length;
        int w = k[0].length;
        int oh = (h + pad[0][0] + pad[0][1] - kh) / sh + 1;
        int ow = (w + pad[1][0] + pad[1][1] - kw) / sw + 1;
        double[][] d = new double[oh][ow];
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
                for (int a = 0; a < kh; a++) {
                    for (int b = 0; b < kw; b++) {
                        int r = i * sh + a - pad[0][0];
                        int s = j * sw + b - pad[1][0];
                        d[i][j] += countIncludePad || r >= 0 && r < h && s >= 0 && s < w ? 1 : 0;
                    }
                }
            }
        }
        double[][][][] nk = new double[oh][ow][oh][ow];
        double[][][][] nt = new double[oh][ow][oh][ow];
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
                for (int p = 0; p < oh; p++) {
                    for (int q = 0; q < ow; q++) {
                        double sk = 0;
                        double st = 0;
                        for (int a = 0; a < kh; a++) {
                            for (int b = 0; b < kw; b++) {
                                for (int a2 = 0; a2 < kh; a2++) {
                                    for (int b2i = 0; b2i < kw; b2i++) {
                                        int i1 = i * sh + a - pad[0][0];
                                        int j1 = j * sw + b - pad[1][0];
                                        int p1 = p * sh + a2 - pad[0][0];
                                        int q1 = q * sw + b2i - pad[1][0];
                                        sk += at(k, i1, j1, p1, q1);
                                        st += at(t, i1, j1, p1, q1);
                                    }
                                }
                            }
                        }
                        nk[i][j][p][q] = sk / (d[i][j] * d[p][q]);
                        nt[i][j][p][q] = st / (d[i][j] * d[p][q]);
                    }
                }
            }
        }
        k = nk;
        t = nt;
        return this;
    }

    /**
     * A deliberately wrong pool, for the tests' contrast: as if the window's pixels met independent weights (only
     * equal offsets meet, as in a conv), K'[o, o'] = Σ_δ K[s·o + δ − pad, s·o' + δ − pad] / (d_o d_o').
     */
    MapOracle wrongPool(int kh, int kw, int sh, int sw) {
        int h = k.length;
        int w = k[0].length;
        int oh = (h - kh) / sh + 1;
        int ow = (w - kw) / sw + 1;
        double[][][][] nk = new double[oh][ow][oh][ow];
        double[][][][] nt = new double[oh][ow][oh][ow];
        double d = kh * kw;
        for (int i = 0; i < oh; i++) {
            for (int j = 0; j < ow; j++) {
                for (int p = 0; p < oh; p++) {
                    for (int q = 0; q < ow; q++) {
                        for (int a = 0; a < kh; a++) {
                            for (int b = 0; b < kw; b++) {
                                nk[i][j][p][q] += at(k, i * sh + a, j * sw + b, p * sh + a, q * sw + b) / (d * d);
                                nt[i][j][p][q] += at(t, i * sh + a, j * sw + b, p * sh + a, q * sw + b) / (d * d);
                            }
                        }
                    }
                }
            }
        }
        k = nk;
        t = nt;
        return this;
    }

    /**
     * relu per pixel pair: the arc-cosine kernels J₁ (K) and J₀ (times Θ) of the examples' own variances; after g
     * normalisations' scales (each a u·v term in Θ, where E[relu'(u) relu'(v) u v] = E[relu(u) relu(v)] = J₁),
     * Θ ← J₀ (Θ − g K) + g J₁.
     */
    MapOracle relu() {
        int h = k.length;
        int w = k[0].length;
        double[][][] v = variances(diagonal());
        double[][] va = v[0];
        double[][] vb = v[1];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                for (int p = 0; p < h; p++) {
                    for (int q = 0; q < w; q++) {
                        double s = Math.sqrt(va[i][j] * vb[p][q]);
                        double th = Math.acos(Math.max(-1, Math.min(1, k[i][j][p][q] / s)));
                        double j1 = s * (Math.sin(th) + (Math.PI - th) * Math.cos(th)) / (2 * Math.PI);
                        t[i][j][p][q] = (Math.PI - th) / (2 * Math.PI) * (t[i][j][p][q] - gammas * k[i][j][p][q])
                                + gammas * j1;
                        k[i][j][p][q] = j1;
                    }
                }
            }
        }
        gammas = 0;
        return this;
    }

    /**
     * layer_norm over the channels, per pixel (or, {@code all}, over every feature of the flattened map: one variance
     * per example, the mean of its diagonal), with its scale and shift: K ← K/√((v_a + ε)(v_b + ε)) with the
     * examples' own variances v, Θ ← Θ/√(...) + K + 1.
     */
    MapOracle layerNorm(double eps, boolean all) {
        int h = k.length;
        int w = k[0].length;
        double[][] diag = diagonal();
        if (all) {
            double mean = 0;
            for (double[] row : diag) {
                for (double d : row) {
                    mean += d / (h * w);
                }
            }
            for (double[] row : diag) {
                java.util.Arrays.fill(row, mean);
            }
        }
        double[][][] v = variances(diag);
        double[][] va = v[0];
        double[][] vb = v[1];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                for (int p = 0; p < h; p++) {
                    for (int q = 0; q < w; q++) {
                        double s = Math.sqrt((va[i][j] + eps) * (vb[p][q] + eps));
                        k[i][j][p][q] /= s;
                        t[i][j][p][q] = t[i][j][p][q] / s + k[i][j][p][q] + 1;
                    }
                }
            }
        }
        gammas++;
        return this;
    }

    /** batch_norm_eval of zero running means and running variance v, with its scale and shift. */
    MapOracle batchNorm(double v, double eps) {
        for (double[][][] a : k) {
            for (double[][] b : a) {
                for (double[] c2 : b) {
                    for (int q = 0; q < c2.length; q++) {
                        c2[q] /= v + eps;
                    }
                }
            }
        }
        for (int i = 0; i < t.length; i++) {
            for (int j = 0; j < t[0].length; j++) {
                for (int p = 0; p < t.length; p++) {
                    for (int q = 0; q < t[0].length; q++) {
                        t[i][j][p][q] = t[i][j][p][q] / (v + eps) + k[i][j][p][q] + 1;
                    }
                }
            }
        }
        gammas++;
        return this;
    }

    /** fan_in_concat on the channels with {@code o}: Σ c_i K_i / Σ c_i, Θ alike. */
    MapOracle concat(MapOracle o) {
        int h = k.length;
        int w = k[0].length;
        double total = c + o.c;
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                for (int p = 0; p < h; p++) {
                    for (int q = 0; q < w; q++) {
                        k[i][j][p][q] = (c * k[i][j][p][q] + o.c * o.k[i][j][p][q]) / total;
                        t[i][j][p][q] = (c * t[i][j][p][q] + o.c * o.t[i][j][p][q]) / total;
                    }
                }
            }
        }
        c += o.c;
        return this;
    }

    /** The mean of the map's diagonal (flatten) or of every entry (global_avg_pool), K and Θ. */
    double[] mean(boolean all) {
        int h = k.length;
        int w = k[0].length;
        double sk = 0;
        double st = 0;
        int n = 0;
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                for (int p = 0; p < h; p++) {
                    for (int q = 0; q < w; q++) {
                        if (all || i == p && j == q) {
                            sk += k[i][j][p][q];
                            st += t[i][j][p][q];
                            n++;
                        }
                    }
                }
            }
        }
        return new double[] {sk / n, st / n};
    }

    /** The units a flatten gives (H·W·C) and the channels a global_avg_pool gives (C). */
    int units(boolean gap) {
        return gap ? c : k.length * k[0].length * c;
    }

    /** dense(out) on a vector state {K, Θ} of {@code n} units: K' = σ_w² K + σ_b², Θ' as the parameterisation. */
    double[] dense(double[] kt, int n) {
        double kn = w2 * kt[0] + b2;
        return new double[] {kn, (std ? n * kt[0] + (b2 != 0 ? 1 : 0) : kn) + w2 * kt[1]};
    }

    /** The readout: flatten or global_avg_pool, then dense. */
    double[] readout(boolean gap) {
        return dense(mean(gap), units(gap));
    }

    /** Each pixel's own variance, k[i][j][i][j]. */
    private double[][] diagonal() {
        int h = k.length;
        int w = k[0].length;
        double[][] diag = new double[h][w];
        for (int i = 0; i < h; i++) {
            for (int j = 0; j < w; j++) {
                diag[i][j] = k[i][j][i][j];
            }
        }
        return diag;
    }

    /**
     * Records {@code diag} as this point's own variances and returns the two sides' {va, vb}: each example's own
     * pass's at this point where one was given, else {@code diag}.
     */
    private double[][][] variances(double[][] diag) {
        int point = seen.size();
        seen.add(diag);
        return new double[][][] {ownA == null ? diag : ownA.get(point), ownB == null ? diag : ownB.get(point)};
    }
}
