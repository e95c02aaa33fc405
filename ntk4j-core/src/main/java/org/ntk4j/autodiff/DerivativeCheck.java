package org.ntk4j.autodiff;

import java.util.Arrays;
import java.util.List;
import java.util.Random;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.tensor.TensorScope;

/**
 * Independent checks of a graph's derivative rules, in float64:
 * <ul>
 *   <li>{@link #jvpVersusFiniteDifferences}: the stacked JVP against central differences
 *       (f(x + εv) - f(x - εv)) / 2ε along K random directions;</li>
 *   <li>{@link #adjointGap}: the dot-product test ⟨u, J v⟩ (through the JVP) against ⟨Jᵀu, v⟩ (through the
 *       VJP) for K random pairs;</li>
 *   <li>{@link #stackingGap}: a stacked evaluation with K vectors against K separate evaluations.</li>
 * </ul>
 * Each returns the worst relative error it found, so that tests can assert a tolerance and users can check a
 * primitive of their own. Each closes what it allocates, the constants of the graphs it traces included, so that
 * {@link Tensor#liveBytes()} is where it was when it returns or throws.
 */
public final class DerivativeCheck {
    private DerivativeCheck() {
    }

    /**
     * Random standard normal values for every input of {@code g} (dtype and shape taken from the graph).
     *
     * @param g the graph
     * @param seed the seed; input i uses {@code seed + 7919 i}
     * @return one new tensor per input, which the caller closes
     */
    public static Tensor[] randomInputs(Graph g, long seed) {
        Tensor[] r = new Tensor[g.inputs().size()];
        for (int i = 0; i < r.length; i++) {
            Var x = g.inputs().get(i);
            r[i] = Tensor.randomNormal(x.dtype(), seed + 7919L * i, x.shape());
        }
        return r;
    }

    /**
     * Worst relative error, over the outputs and the K directions, between the JVP and central differences
     * with step {@code eps}. The error of one output is ‖jvp - fd‖∞ / max(‖fd‖∞, ‖jvp‖∞, floor).
     *
     * @param g the graph; its inputs must be float64
     * @param x the point, one tensor per input
     * @param k the number of random directions
     * @param eps the finite-difference step
     * @param seed the seed of the directions
     * @return the worst relative error
     * @throws IllegalArgumentException if an input of {@code g} is not float64
     */
    public static double jvpVersusFiniteDifferences(Graph g, Tensor[] x, int k, double eps, long seed) {
        // the traced JVP and VJP graphs' constants, the directions and the values: closed when the check ends,
        // also when it throws
        TensorScope scope = TensorScope.open();
        try {
            requireF64(g);
            Random rnd = new Random(seed);
            Tensor[] tangents = new Tensor[x.length];
            for (int i = 0; i < x.length; i++) {
                tangents[i] = Tensor.randomNormal(DType.F64, rnd.nextLong(), prepend(k, x[i].shape()));
            }
            Graph jvp = Jvp.of(g, k);
            Tensor[] res = jvp.evaluate(concat(x, tangents));
            int m = g.outputs().size();
            double worst = 0;
            for (int d = 0; d < k; d++) {
                Tensor[] plus = shifted(x, tangents, d, eps);
                Tensor[] minus = shifted(x, tangents, d, -eps);
                Tensor[] fp = g.evaluate(plus);
                Tensor[] fm = g.evaluate(minus);
                for (int j = 0; j < m; j++) {
                    Tensor t = res[m + j];
                    int n = fp[j].size();
                    double maxErr = 0;
                    double scale = 1e-8;
                    for (int e = 0; e < n; e++) {
                        double fd = (fp[j].getFlat(e) - fm[j].getFlat(e)) / (2 * eps);
                        double an = t.getFlat(d * n + e);
                        maxErr = Math.max(maxErr, Math.abs(fd - an));
                        scale = Math.max(scale, Math.max(Math.abs(fd), Math.abs(an)));
                    }
                    worst = Math.max(worst, maxErr / scale);
                }
                closeAll(plus);
                closeAll(minus);
                closeAll(fp);
                closeAll(fm);
            }
            closeAll(tangents);
            closeAll(res);
            return worst;
        } finally {
            scope.close();
        }
    }

    /**
     * Worst relative gap |⟨u, Jv⟩ - ⟨Jᵀu, v⟩| / S over K random pairs (u, v), where S = Σ|u_i (Jv)_i| is the
     * size of the terms being summed: the two sides add the same products in different orders, so their
     * rounding difference is bounded by a multiple of S, not of |⟨u, Jv⟩| (which cancellation can make tiny).
     *
     * @param g the graph; its inputs must be float64
     * @param x the point, one tensor per input
     * @param k the number of random pairs
     * @param seed the seed of the pairs
     * @return the worst relative gap
     * @throws IllegalArgumentException if an input of {@code g} is not float64
     */
    public static double adjointGap(Graph g, Tensor[] x, int k, long seed) {
        // the traced JVP and VJP graphs' constants, the directions and the values: closed when the check ends,
        // also when it throws
        TensorScope scope = TensorScope.open();
        try {
            requireF64(g);
            Random rnd = new Random(seed);
            int n = x.length;
            int m = g.outputs().size();
            Tensor[] v = new Tensor[n];
            for (int i = 0; i < n; i++) {
                v[i] = Tensor.randomNormal(DType.F64, rnd.nextLong(), prepend(k, x[i].shape()));
            }
            Tensor[] u = new Tensor[m];
            for (int j = 0; j < m; j++) {
                u[j] = Tensor.randomNormal(DType.F64, rnd.nextLong(), prepend(k, g.outputs().get(j).shape()));
            }
            Tensor[] jv = Jvp.of(g, k).evaluate(concat(x, v));
            Tensor[] jtu = Vjp.of(g, k).evaluate(concat(x, u));
            double worst = 0;
            for (int d = 0; d < k; d++) {
                double lhs = 0;
                double magnitude = 1e-300;
                for (int j = 0; j < m; j++) {
                    lhs += dotRow(u[j], jv[m + j], d);
                    magnitude += absDotRow(u[j], jv[m + j], d);
                }
                double rhs = 0;
                for (int i = 0; i < n; i++) {
                    rhs += dotRow(jtu[m + i], v[i], d);
                }
                worst = Math.max(worst, Math.abs(lhs - rhs) / magnitude);
            }
            closeAll(v);
            closeAll(u);
            closeAll(jv);
            closeAll(jtu);
            return worst;
        } finally {
            scope.close();
        }
    }

    /**
     * Worst relative difference between evaluating the JVP and VJP graphs once with K stacked vectors and K
     * times with one vector each.
     *
     * @param g the graph (any dtype)
     * @param x the point, one tensor per input
     * @param k the stack size
     * @param seed the seed of the vectors
     * @return the worst relative difference
     */
    public static double stackingGap(Graph g, Tensor[] x, int k, long seed) {
        // the traced JVP and VJP graphs' constants, the directions and the values: closed when the check ends,
        // also when it throws
        TensorScope scope = TensorScope.open();
        try {
            Random rnd = new Random(seed);
            int n = x.length;
            int m = g.outputs().size();
            Tensor[] v = new Tensor[n];
            for (int i = 0; i < n; i++) {
                v[i] = Tensor.randomNormal(g.inputs().get(i).dtype(), rnd.nextLong(), prepend(k, x[i].shape()));
            }
            Tensor[] u = new Tensor[m];
            for (int j = 0; j < m; j++) {
                Var y = g.outputs().get(j);
                u[j] = Tensor.randomNormal(y.dtype(), rnd.nextLong(), prepend(k, y.shape()));
            }
            Tensor[] jvK = Jvp.of(g, k).evaluate(concat(x, v));
            Tensor[] vjK = Vjp.of(g, k).evaluate(concat(x, u));
            Graph jvp1 = Jvp.of(g, 1);
            Graph vjp1 = Vjp.of(g, 1);
            double worst = 0;
            for (int d = 0; d < k; d++) {
                Tensor[] vd = rows(v, d);
                Tensor[] ud = rows(u, d);
                Tensor[] jv1 = jvp1.evaluate(concat(x, vd));
                Tensor[] vj1 = vjp1.evaluate(concat(x, ud));
                for (int j = 0; j < m; j++) {
                    worst = Math.max(worst, rowGap(jvK[m + j], jv1[m + j], d));
                }
                for (int i = 0; i < n; i++) {
                    worst = Math.max(worst, rowGap(vjK[m + i], vj1[m + i], d));
                }
                closeAll(vd);
                closeAll(ud);
                closeAll(jv1);
                closeAll(vj1);
            }
            closeAll(v);
            closeAll(u);
            closeAll(jvK);
            closeAll(vjK);
            return worst;
        } finally {
            scope.close();
        }
    }

    private static double rowGap(Tensor stacked, Tensor single, int d) {
        int n = single.size();
        double err = 0;
        double scale = 1e-30;
        for (int e = 0; e < n; e++) {
            double a = stacked.getFlat(d * n + e);
            double b = single.getFlat(e);
            err = Math.max(err, Math.abs(a - b));
            scale = Math.max(scale, Math.abs(b));
        }
        return err / scale;
    }

    private static Tensor[] rows(Tensor[] stacked, int d) {
        Tensor[] r = new Tensor[stacked.length];
        for (int i = 0; i < r.length; i++) {
            int[] s = stacked[i].shape();
            s[0] = 1;
            Tensor t = Tensor.empty(stacked[i].dtype(), s);
            int n = t.size();
            for (int e = 0; e < n; e++) {
                t.setFlat(e, stacked[i].getFlat(d * n + e));
            }
            r[i] = t;
        }
        return r;
    }

    private static double dotRow(Tensor a, Tensor b, int d) {
        int n = a.size() / a.dim(0);
        double s = 0;
        for (int e = 0; e < n; e++) {
            s += a.getFlat(d * n + e) * b.getFlat(d * n + e);
        }
        return s;
    }

    private static double absDotRow(Tensor a, Tensor b, int d) {
        int n = a.size() / a.dim(0);
        double s = 0;
        for (int e = 0; e < n; e++) {
            s += Math.abs(a.getFlat(d * n + e) * b.getFlat(d * n + e));
        }
        return s;
    }

    private static Tensor[] shifted(Tensor[] x, Tensor[] tangents, int d, double eps) {
        Tensor[] r = new Tensor[x.length];
        for (int i = 0; i < x.length; i++) {
            Tensor t = x[i].copy();
            int n = t.size();
            for (int e = 0; e < n; e++) {
                t.setFlat(e, t.getFlat(e) + eps * tangents[i].getFlat(d * n + e));
            }
            r[i] = t;
        }
        return r;
    }

    private static void requireF64(Graph g) {
        List<Var> in = g.inputs();
        for (Var v : in) {
            if (v.dtype() != DType.F64) {
                throw new IllegalArgumentException("derivative checks run in float64; input " + v + " is not");
            }
        }
    }

    private static int[] prepend(int k, int[] s) {
        int[] r = new int[s.length + 1];
        r[0] = k;
        System.arraycopy(s, 0, r, 1, s.length);
        return r;
    }

    private static Tensor[] concat(Tensor[] a, Tensor[] b) {
        Tensor[] r = Arrays.copyOf(a, a.length + b.length);
        System.arraycopy(b, 0, r, a.length, b.length);
        return r;
    }

    private static void closeAll(Tensor[] ts) {
        for (Tensor t : ts) {
            t.close();
        }
    }
}
