package org.ntk4j.onnx;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.onnx.Onnx.DOUBLE;
import static org.ntk4j.onnx.Onnx.info;
import static org.ntk4j.onnx.Onnx.model;
import static org.ntk4j.onnx.Onnx.node;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import org.ntk4j.nn.Params;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Random chains of Transpose (of any axes, the batch axis included), Reshape (splitting and merging, the batch
 * axis absorbed by a -1), MatMul by a weight or of a value and its transpose, Add of a bias and Softmax on
 * x [n, a, b, c], ended by a Reshape to
 * [n, -1] built from Shape: the import, which holds such values as views, equals the same chain computed here on
 * flat row-major arrays (float64, 1e-12).
 */
class ViewChainProperties {
    /** A value of the oracle: row-major data and shape. */
    private record Arr(double[] v, int[] s) {
    }

    private static int size(int[] s) {
        int n = 1;
        for (int x : s) {
            n *= x;
        }
        return n;
    }

    private static int[] strides(int[] s) {
        int[] st = new int[s.length];
        int k = 1;
        for (int i = s.length - 1; i >= 0; i--) {
            st[i] = k;
            k *= s[i];
        }
        return st;
    }

    private static Arr transpose(Arr a, int[] p) {
        int[] out = new int[p.length];
        for (int i = 0; i < p.length; i++) {
            out[i] = a.s[p[i]];
        }
        int[] in = strides(a.s);
        double[] r = new double[a.v.length];
        for (int f = 0; f < r.length; f++) {
            int rem = f;
            int off = 0;
            for (int i = p.length - 1; i >= 0; i--) {
                off += (rem % out[i]) * in[p[i]];
                rem /= out[i];
            }
            r[f] = a.v[off];
        }
        return new Arr(r, out);
    }

    private static Arr matmulLast(Arr a, double[] w, int k, int m) {
        int rows = a.v.length / k;
        double[] r = new double[rows * m];
        for (int i = 0; i < rows; i++) {
            for (int j = 0; j < m; j++) {
                double t = 0;
                for (int q = 0; q < k; q++) {
                    t += a.v[i * k + q] * w[q * m + j];
                }
                r[i * m + j] = t;
            }
        }
        int[] s = a.s.clone();
        s[s.length - 1] = m;
        return new Arr(r, s);
    }

    private static Arr softmax(Arr a, int axis) {
        int[] st = strides(a.s);
        double[] r = new double[a.v.length];
        for (int f = 0; f < r.length; f++) {
            int base = f - ((f / st[axis]) % a.s[axis]) * st[axis];
            double mx = Double.NEGATIVE_INFINITY;
            for (int i = 0; i < a.s[axis]; i++) {
                mx = Math.max(mx, a.v[base + i * st[axis]]);
            }
            double sum = 0;
            for (int i = 0; i < a.s[axis]; i++) {
                sum += Math.exp(a.v[base + i * st[axis]] - mx);
            }
            r[f] = Math.exp(a.v[f] - mx) / sum;
        }
        return new Arr(r, a.s);
    }

    private static double maxAbs(double[] v) {
        double m = 0;
        for (double a : v) {
            m = Math.max(m, Math.abs(a));
        }
        return m;
    }

    /**
     * Random chains of views, products and element-wise steps, against the same arithmetic in row-major loops, in
     * float64 within 1e-12 of the largest magnitude along the chain (the BLAS sums in another order than the loops).
     */
    @Property(tries = 80, seed = "20261207")
    void chainsOfViewsEqualRowMajorArithmetic(@ForAll long seed) throws IOException {
        Random rnd = new Random(seed);
        int n = 2 + rnd.nextInt(2);
        int[] in = {n, 1 + rnd.nextInt(3), 1 + rnd.nextInt(4), 1 + rnd.nextInt(3)};
        double[] xv = new double[size(in)];
        for (int i = 0; i < xv.length; i++) {
            xv[i] = rnd.nextGaussian();
        }
        Arr cur = new Arr(xv, in);
        GraphProto.Builder g = GraphProto.newBuilder().addInput(info("x", DOUBLE, "N", in[1], in[2], in[3]))
                .addOutput(info("y", DOUBLE));
        String name = "x";
        // the axis whose size is the batch size (weights and biases must not depend on it)
        int nAxis = 0;
        // the largest magnitude of any value along the chain: rounding errors scale with it (v·vᵀ squares it: a
        // chain reached 12,245 and differed from this loop's order of summation by 2e-12)
        double largest = maxAbs(xv);
        int steps = 1 + rnd.nextInt(6);
        for (int step = 0; step < steps; step++) {
            String out = "v" + step;
            int r = cur.s.length;
            int kind = rnd.nextInt(6);
            if ((kind == 2 || kind == 3) && nAxis == r - 1 || kind == 5 && nAxis >= r - 2) {
                // weights may not depend on the batch size; the product pairs leading axes only
                kind = 4;
            }
            if (kind == 0) {
                List<Integer> p = new ArrayList<>();
                for (int i = 0; i < r; i++) {
                    p.add(i);
                }
                Collections.shuffle(p, rnd);
                int[] perm = p.stream().mapToInt(Integer::intValue).toArray();
                g.addNode(node("Transpose", "t" + step, new String[] {name}, new String[] {out},
                        Onnx.ints("perm", java.util.Arrays.stream(perm).asLongStream().toArray())));
                cur = transpose(cur, perm);
                nAxis = p.indexOf(nAxis);
            } else if (kind == 1) {
                // factor the non-batch elements into 1-4 axes and put a -1 (the batch's factor) somewhere
                int rest = cur.v.length / n;
                List<Long> f = new ArrayList<>();
                int left = rest;
                int axes = 1 + rnd.nextInt(3);
                for (int i = 0; i < axes - 1; i++) {
                    List<Integer> divisors = new ArrayList<>();
                    for (int d = 1; d <= left; d++) {
                        if (left % d == 0) {
                            divisors.add(d);
                        }
                    }
                    int d = divisors.get(rnd.nextInt(divisors.size()));
                    f.add((long) d);
                    left /= d;
                }
                f.add((long) left);
                f.add(rnd.nextInt(f.size() + 1), -1L);
                long[] target = f.stream().mapToLong(Long::longValue).toArray();
                g.addInitializer(Onnx.int64s("shape" + step, target, target.length));
                g.addNode(node("Reshape", "r" + step, new String[] {name, "shape" + step}, new String[] {out}));
                nAxis = f.indexOf(-1L);
                int[] s = new int[target.length];
                for (int i = 0; i < s.length; i++) {
                    s[i] = target[i] == -1 ? n : (int) target[i];
                }
                cur = new Arr(cur.v, s);
            } else if (kind == 2) {
                int k = cur.s[r - 1];
                int m = 1 + rnd.nextInt(3);
                double[] w = new double[k * m];
                for (int i = 0; i < w.length; i++) {
                    w[i] = rnd.nextGaussian();
                }
                g.addInitializer(Onnx.doubles("w" + step, w, k, m));
                g.addNode(node("MatMul", "m" + step, new String[] {name, "w" + step}, new String[] {out}));
                cur = matmulLast(cur, w, k, m);
            } else if (kind == 3) {
                int k = cur.s[r - 1];
                double[] b = new double[k];
                for (int i = 0; i < k; i++) {
                    b[i] = rnd.nextGaussian();
                }
                g.addInitializer(Onnx.doubles("b" + step, b, k));
                g.addNode(node("Add", "a" + step, new String[] {name, "b" + step}, new String[] {out}));
                double[] v = cur.v.clone();
                for (int i = 0; i < v.length; i++) {
                    v[i] += b[i % k];
                }
                cur = new Arr(v, cur.s);
            } else if (kind == 5) {
                // v @ v^T over the last two axes, the leading ones paired (a batched product of two views)
                int[] perm = new int[r];
                for (int i = 0; i < r; i++) {
                    perm[i] = i;
                }
                perm[r - 1] = r - 2;
                perm[r - 2] = r - 1;
                g.addNode(node("Transpose", "vt" + step, new String[] {name}, new String[] {out + "t"},
                        Onnx.ints("perm", java.util.Arrays.stream(perm).asLongStream().toArray())));
                g.addNode(node("MatMul", "g" + step, new String[] {name, out + "t"}, new String[] {out}));
                int mm = cur.s[r - 2];
                int k = cur.s[r - 1];
                int batches = cur.v.length / (mm * k);
                double[] v = new double[batches * mm * mm];
                for (int b = 0; b < batches; b++) {
                    for (int i = 0; i < mm; i++) {
                        for (int j = 0; j < mm; j++) {
                            double t = 0;
                            for (int q = 0; q < k; q++) {
                                t += cur.v[(b * mm + i) * k + q] * cur.v[(b * mm + j) * k + q];
                            }
                            v[(b * mm + i) * mm + j] = t;
                        }
                    }
                }
                int[] s2 = cur.s.clone();
                s2[r - 1] = mm;
                cur = new Arr(v, s2);
            } else {
                int axis = rnd.nextInt(r);
                g.addNode(node("Softmax", "s" + step, new String[] {name}, new String[] {out},
                        Onnx.attr("axis", axis)));
                cur = softmax(cur, axis);
            }
            name = out;
            largest = Math.max(largest, maxAbs(cur.v));
        }
        // y = Reshape(v, [shape(x)[0], -1])
        g.addInitializer(Onnx.int64s("zero", new long[] {0}, 1)).addInitializer(Onnx.int64s("one", new long[] {1}, 1))
                .addInitializer(Onnx.int64s("minus", new long[] {-1}, 1))
                .addNode(node("Shape", "shape", new String[] {"x"}, new String[] {"xs"}))
                .addNode(node("Slice", "first", new String[] {"xs", "zero", "one"}, new String[] {"n"}))
                .addNode(node("Concat", "target", new String[] {"n", "minus"}, new String[] {"t"},
                        Onnx.attr("axis", 0)))
                .addNode(node("Reshape", "flat", new String[] {name, "t"}, new String[] {"y"}));
        Path dir = Files.createTempDirectory("onnx-views");
        Path file = Onnx.write(dir.resolve("chain.onnx"), model(13, g.build()));
        try {
            OnnxModel m = OnnxModel.load(file);
            try (Params p = m.params(DType.F64); Tensor x = Tensor.of(xv, in); Tensor y = m.model().apply(p, x)) {
                assertThat(y.shape()).containsExactly(n, cur.v.length / n);
                for (int i = 0; i < cur.v.length; i++) {
                    assertThat(y.getFlat(i)).as("element %d of %s", i, g.getNodeList()).isCloseTo(cur.v[i],
                            org.assertj.core.data.Offset.offset(1e-12 * Math.max(1, largest)));
                }
            }
        } finally {
            Files.delete(file);
            Files.delete(dir);
        }
    }
}
