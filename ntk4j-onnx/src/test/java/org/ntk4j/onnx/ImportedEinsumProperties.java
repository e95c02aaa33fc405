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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.onnx.proto.OnnxProtos.AttributeProto;
import org.ntk4j.onnx.proto.OnnxProtos.GraphProto;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;

/**
 * Einsum on random sizes: each equation (explicit, implicit, with an ellipsis, a diagonal, a trace, one to three
 * operands, x used twice) imported from a one-node graph whose other operands are parameters. The output equals a
 * plain-Java einsum (a sum over every assignment of the labels, in float64) to 1e-12, and the eNTK by each exact method
 * equals the others' and the one from that oracle's central-difference Jacobian.
 */
class ImportedEinsumProperties {
    private static final int N = 2;

    /**
     * An equation as the node writes it, the same with every label spelled out for the oracle (an ellipsis's axes
     * named, a size-1 axis as a label of size 1), the node's inputs ("x" or a parameter), and pairs of labels of
     * equal size (x used twice).
     */
    private record Case(String equation, String explicit, String[] inputs, String equalSizes) {
    }

    private static final Case[] CASES = {
        new Case("ni,ij->nj", "ni,ij->nj", new String[] {"x", "w0"}, ""),
        new Case("...ij,jk->...ik", "nij,jk->nik", new String[] {"x", "w0"}, ""),
        // an implicit output: the letters used once, in ASCII order
        new Case("aij,jk", "aij,jk->aik", new String[] {"x", "w0"}, ""),
        new Case("nii->ni", "nii->ni", new String[] {"x"}, "ii"),
        new Case("nii", "nii->n", new String[] {"x"}, "ii"),
        new Case("nij->nji", "nij->nji", new String[] {"x"}, ""),
        new Case("ni,ij,nj->n", "ni,ij,nj->n", new String[] {"x", "w0", "x"}, "ij"),
        new Case("ni,ij,jk->nk", "ni,ij,jk->nk", new String[] {"x", "w0", "w1"}, ""),
        new Case("ij,nj->ni", "ij,nj->ni", new String[] {"w0", "x"}, ""),
        new Case("nhqd,nhkd->nhqk", "nhqd,nhkd->nhqk", new String[] {"x", "x"}, "qk"),
        // the parameter's ellipsis axis of size 1 broadcast against the examples
        new Case("...ij,...jk->...ik", "nij,mjk->nik", new String[] {"x", "w0"}, ""),
        new Case("ni,nj->nij", "ni,nj->nij", new String[] {"x", "x"}, "ij"),
        new Case("nij,jj->ni", "nij,jj->ni", new String[] {"x", "w0"}, ""),
        new Case("nii,i->ni", "nii,i->ni", new String[] {"x", "w0"}, "ii"),
        new Case("nij,k->nkji", "nij,k->nkji", new String[] {"x", "w0"}, ""),
    };

    @Property(tries = 60, seed = "20261206")
    void einsumEqualsTheSumOverLabelsWithKernelsByEveryMethod(
            @ForAll @IntRange(min = 0, max = 14) int which, @ForAll @IntRange(min = 1, max = 3) int s0,
            @ForAll @IntRange(min = 1, max = 3) int s1, @ForAll @IntRange(min = 1, max = 3) int s2,
            @ForAll long seed) throws IOException {
        Case c = CASES[which];
        String[] specs = c.explicit.split("->")[0].split(",");
        String outSpec = c.explicit.split("->")[1];
        // sizes: the examples' label N, 'm' 1, the others in turn s0, s1, s2; pairs in equalSizes alike
        Map<Character, Integer> size = new HashMap<>();
        int[] pool = {s0, s1, s2, s1, s0};
        size.put(specs[indexOfX(c)].charAt(0), N);
        size.put('m', 1);
        int next = 0;
        for (char l : c.explicit.replaceAll("[^a-z]", "").toCharArray()) {
            if (!size.containsKey(l)) {
                int eq = c.equalSizes.indexOf(l);
                size.put(l, eq % 2 == 1 ? size.get(c.equalSizes.charAt(eq - 1)) : pool[next++ % pool.length]);
            }
        }
        Random rng = new Random(seed);
        Map<String, double[]> values = new HashMap<>();
        Map<String, int[]> shapes = new HashMap<>();
        GraphProto.Builder g = GraphProto.newBuilder().setName("einsum");
        for (int i = 0; i < specs.length; i++) {
            String in = c.inputs[i];
            int[] s = new int[specs[i].length()];
            for (int a = 0; a < s.length; a++) {
                s[a] = size.get(specs[i].charAt(a));
            }
            if (shapes.containsKey(in)) {
                continue;
            }
            shapes.put(in, s);
            double[] v = new double[Shapes.size(s)];
            for (int k = 0; k < v.length; k++) {
                v[k] = rng.nextGaussian();
            }
            values.put(in, v);
            if (in.equals("x")) {
                Object[] dims = new Object[s.length];
                dims[0] = "N";
                for (int a = 1; a < s.length; a++) {
                    dims[a] = s[a];
                }
                g.addInput(info("x", DOUBLE, dims));
            } else {
                g.addInitializer(Onnx.doubles(in, v, java.util.Arrays.stream(s).asLongStream().toArray()));
            }
        }
        int[] outShape = new int[outSpec.length()];
        for (int a = 0; a < outShape.length; a++) {
            outShape[a] = size.get(outSpec.charAt(a));
        }
        Object[] outDims = new Object[outShape.length];
        outDims[0] = "N";
        for (int a = 1; a < outShape.length; a++) {
            outDims[a] = outShape[a];
        }
        g.addOutput(info("y", DOUBLE, outDims)).addNode(node("Einsum", "einsum", c.inputs, new String[] {"y"},
                AttributeProto.newBuilder().setName("equation").setType(AttributeProto.AttributeType.STRING)
                        .setS(com.google.protobuf.ByteString.copyFromUtf8(c.equation)).build()));
        List<String> params = new ArrayList<>(values.keySet());
        params.remove("x");
        params.sort(null);
        Path dir = Files.createTempDirectory("onnx-einsum");
        try {
            OnnxModel m = OnnxModel.load(Onnx.write(dir.resolve("m.onnx"), model(13, g.build())));
            assertThat(m.parameterNames()).containsExactlyInAnyOrderElementsOf(params);
            assertThat(m.independentExamples()).isTrue();
            int outSize = Shapes.size(outShape);
            double[] y = einsum(c.explicit, c.inputs, values, shapes, size);
            try (Params p = m.params(DType.F64); Tensor x = Tensor.of(values.get("x"), shapes.get("x"));
                 Tensor f = m.model().apply(p, x)) {
                assertThat(f.shape()).as(c.equation).containsExactly(outShape);
                Signal.assertVariesRelative(y, N, 1e-12, "forward of " + c.equation);
                assertThat(relative(f.toDoubleArray(), y)).as("forward of %s", c.equation).isLessThan(1e-12);
                if (params.isEmpty()) {
                    return;
                }
                // the oracle's Jacobian J[n, o, q] by central differences over the parameters' elements
                List<double[]> jac = new ArrayList<>();
                double h = 1e-6;
                for (String name : params) {
                    double[] v = values.get(name);
                    for (int q = 0; q < v.length; q++) {
                        double keep = v[q];
                        v[q] = keep + h;
                        double[] up = einsum(c.explicit, c.inputs, values, shapes, size);
                        v[q] = keep - h;
                        double[] down = einsum(c.explicit, c.inputs, values, shapes, size);
                        v[q] = keep;
                        double[] col = new double[up.length];
                        for (int i = 0; i < col.length; i++) {
                            col[i] = (up[i] - down[i]) / (2 * h);
                        }
                        jac.add(col);
                    }
                }
                int per = outSize / N;
                double[] expected = new double[N * N * per * per];
                for (int n1 = 0; n1 < N; n1++) {
                    for (int n2 = 0; n2 < N; n2++) {
                        for (int a = 0; a < per; a++) {
                            for (int b = 0; b < per; b++) {
                                double e = 0;
                                for (double[] col : jac) {
                                    e += col[n1 * per + a] * col[n2 * per + b];
                                }
                                // ntk4j's layout [n1, n2, o1, o1', o2, o2', ...]
                                int at = n1 * N + n2;
                                for (int d = 1, ra = a, rb = b, inner = per; d < outShape.length; d++) {
                                    inner /= outShape[d];
                                    at = (at * outShape[d] + ra / inner) * outShape[d] + rb / inner;
                                    ra %= inner;
                                    rb %= inner;
                                }
                                expected[at] = e;
                            }
                        }
                    }
                }
                Signal.assertVariesRelative(expected, N * N, 1e-7, "finite-difference eNTK of " + c.equation);
                double[] first = null;
                for (Method method : new Method[] {Method.JACOBIAN_CONTRACTION, Method.NTK_VECTOR_PRODUCTS,
                    Method.STRUCTURED_DERIVATIVES}) {
                    try (Tensor k = EmpiricalNtk.of(m.model(), p).traceAxes().method(method).ntk(x, null)) {
                        double[] kv = k.toDoubleArray();
                        assertThat(kv).hasSize(expected.length);
                        assertThat(relative(kv, expected)).as("eNTK of %s by %s against finite differences",
                                c.equation, method).isLessThan(1e-7);
                        if (first == null) {
                            first = kv;
                        } else {
                            assertThat(relative(kv, first)).as("eNTK of %s by %s against Jacobian contraction",
                                    c.equation, method).isLessThan(1e-12);
                        }
                    }
                }
            }
        } finally {
            Files.deleteIfExists(dir.resolve("m.onnx"));
            Files.delete(dir);
        }
    }

    private static int indexOfX(Case c) {
        return java.util.Arrays.asList(c.inputs).indexOf("x");
    }

    /** The explicit equation summed over every assignment of its labels: out[o] = Σ Π operand[i][its labels]. */
    private static double[] einsum(String explicit, String[] inputs, Map<String, double[]> values,
                                   Map<String, int[]> shapes, Map<Character, Integer> size) {
        String[] specs = explicit.split("->")[0].split(",");
        String out = explicit.split("->")[1];
        String labels = explicit.replaceAll("[^a-z]", "").chars().distinct()
                .collect(StringBuilder::new, StringBuilder::appendCodePoint, StringBuilder::append).toString();
        int[] dims = new int[labels.length()];
        for (int i = 0; i < dims.length; i++) {
            dims[i] = size.get(labels.charAt(i));
        }
        int[] outDims = new int[out.length()];
        for (int i = 0; i < outDims.length; i++) {
            outDims[i] = size.get(out.charAt(i));
        }
        double[] r = new double[Shapes.size(outDims)];
        int[] at = new int[dims.length];
        for (int flat = 0; flat < Shapes.size(dims); flat++) {
            int rem = flat;
            for (int i = dims.length - 1; i >= 0; i--) {
                at[i] = rem % dims[i];
                rem /= dims[i];
            }
            double prod = 1;
            for (int t = 0; t < specs.length; t++) {
                prod *= values.get(inputs[t])[offset(specs[t], shapes.get(inputs[t]), labels, at)];
            }
            r[offset(out, outDims, labels, at)] += prod;
        }
        return r;
    }

    /** The row-major offset of the element of a tensor with subscripts {@code spec} at the label values {@code at}. */
    private static int offset(String spec, int[] shape, String labels, int[] at) {
        int off = 0;
        for (int a = 0; a < spec.length(); a++) {
            off = off * shape[a] + (shape[a] == 1 ? 0 : at[labels.indexOf(spec.charAt(a))]);
        }
        return off;
    }

    private static double relative(double[] a, double[] b) {
        double num = 0;
        double den = 0;
        for (int i = 0; i < b.length; i++) {
            num += (a[i] - b[i]) * (a[i] - b[i]);
            den += b[i] * b[i];
        }
        return den == 0 ? Math.sqrt(num) : Math.sqrt(num / den);
    }
}
