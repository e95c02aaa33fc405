package org.ntk4j.examples;

import java.util.List;
import java.util.Locale;
import org.ntk4j.autodiff.DerivativeCheck;
import org.ntk4j.cpu.Elementwise;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.TensorType;
import org.ntk4j.graph.Var;
import org.ntk4j.nn.Layer;
import org.ntk4j.nn.Layers;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.ParamScope;
import org.ntk4j.nn.Params;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.primitive.LinearStructure;
import org.ntk4j.primitive.Primitive;
import org.ntk4j.primitive.UnaryPrimitive;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * Extending ntk4j: a primitive is one class (evaluation, JVP, VJP and, for a linear one, its structure rule), and
 * a layer is one class (its parameters and its forward pass on traced tensors). Nothing else changes: the three
 * NTK methods, the cost model and the derivative checks work on the new network at once.
 *
 * <p>Two primitives are defined here:
 * <ul>
 *   <li>{@link Scale}: y = c·x for a fixed c, linear, with a structure rule ({@link Primitive#linearStructure})
 *       so that structured derivatives can follow a parameter through it to the matrix product it feeds;</li>
 *   <li>{@link Softsign}: y = x / (1 + |x|), a nonlinearity, as a {@link UnaryPrimitive} (f and f' only).</li>
 * </ul>
 * The layer {@link NtkDense} uses {@code Scale} for the NTK parameterisation, y = x·(σ/√fan_in)·w + b.
 *
 * <p>Run: {@code ntk4j-examples/run CustomLayerAndPrimitive [N] [WIDTH]} (defaults 8, 32).
 */
public final class CustomLayerAndPrimitive {
    private CustomLayerAndPrimitive() {
    }

    /**
     * y = c·x. A primitive keeps all of its rules in its one class; the derivative rules emit graph operations on
     * stacked tangents (a leading axis of k vectors), so they run as one batched computation.
     */
    public static final class Scale implements Primitive {
        private final double c;
        private final boolean withStructure;

        /**
         * @param c the factor
         * @param withStructure false leaves out the structure rule (to show what it buys in the cost model)
         */
        public Scale(double c, boolean withStructure) {
            this.c = c;
            this.withStructure = withStructure;
        }

        @Override
        public String name() {
            return "scale";
        }

        /** Printed in graph listings: {@code scale[c=0.25]}. */
        @Override
        public String params() {
            return "c=" + c;
        }

        /** The shape rule: one operand, and the result has its type. Fails naming the primitive otherwise. */
        @Override
        public TensorType outputType(TensorType... inputs) {
            if (inputs.length != 1) {
                throw new IllegalArgumentException("scale: expects 1 operand, got " + inputs.length);
            }
            return inputs[0];
        }

        /** The CPU kernel. */
        @Override
        public Tensor evaluate(Tensor... inputs) {
            return Elementwise.map(inputs[0], v -> c * v);
        }

        /** Forward mode: the tangents [k, ...] scaled by c (linear: the primal is not needed). */
        @Override
        public Var jvp(Var[] primals, Var out, Var[] tangents, int k) {
            return tangents[0].mul(c);
        }

        /** Reverse mode: the cotangents [k, ...] scaled by c. */
        @Override
        public Var[] vjp(Var[] primals, Var out, Var cotangent, boolean[] needed) {
            return new Var[] {needed[0] ? cotangent.mul(c) : null};
        }

        /**
         * The structure of ∂y/∂x: c times the identity, element by element. Structured derivatives composes
         * such structures along the path from a parameter to the equation where it meets the data; a primitive
         * that answers null (the default) sends that parameter to the dense, per-example-rows fallback.
         */
        @Override
        public LinearStructure linearStructure(TensorType[] inputs, TensorType output, int operand,
                                               Tensor[] constants) {
            return withStructure ? LinearStructure.elementwise(output.shape().length, c) : null;
        }
    }

    /** y = x / (1 + |x|): a {@link UnaryPrimitive} gives f as a scalar function and f' as graph operations. */
    public static final class Softsign extends UnaryPrimitive {
        /** The one instance (the primitive has no parameters). */
        public static final Softsign INSTANCE = new Softsign();

        private Softsign() {
        }

        @Override
        public String name() {
            return "softsign";
        }

        @Override
        protected double apply(double x) {
            return x / (1 + Math.abs(x));
        }

        /** f'(x) = 1 / (1 + |x|)², with |x| = max(x, −x). */
        @Override
        protected Var derivative(Var x, Var y) {
            Var d = x.max(x.neg()).add(1.0);
            return x.builder().scalar(1.0, x.dtype()).div(d.square());
        }
    }

    /**
     * A dense layer in the NTK parameterisation written with {@link Scale}: parameters w [fan_in, out] and
     * b [out], both N(0, 1); y = x·(σ/√fan_in · w) + b.
     */
    public static final class NtkDense implements Layer {
        private final int out;
        private final double sigma;
        private final boolean structured;

        /**
         * @param out output features
         * @param sigma σ_w
         * @param structured whether its {@link Scale} has the structure rule
         */
        public NtkDense(int out, double sigma, boolean structured) {
            this.out = out;
            this.sigma = sigma;
            this.structured = structured;
        }

        /** The name in parameter paths: {@code ntkdense}. */
        @Override
        public String kind() {
            return "ntkdense";
        }

        /** [..., fan_in] to [..., out]. Shapes exclude the example axis. */
        @Override
        public List<int[]> outputShapes(List<int[]> inputShapes) {
            int[] in = inputShapes.get(0);
            if (inputShapes.size() != 1 || in.length != 1) {
                throw new IllegalArgumentException("ntkdense: expects one input of shape [features]");
            }
            return List.of(new int[] {out});
        }

        /** Declares w and b: name, shape, standard deviation and mean of their initialisation. */
        @Override
        public void declare(ParamScope scope, List<int[]> inputShapes) {
            int fanIn = inputShapes.get(0)[0];
            scope.declare("w", new int[] {fanIn, out}, 1.0, 0);
            scope.declare("b", new int[] {out}, 1.0, 0);
        }

        /** The forward pass on traced tensors [N, fan_in]: a custom primitive is applied through the builder. */
        @Override
        public List<Var> apply(ParamScope scope, List<Var> inputs) {
            Var x = inputs.get(0);
            Var w = scope.get("w");
            Var scaled = w.builder().apply(new Scale(sigma / Math.sqrt(w.dim(0)), structured), w);
            return List.of(x.matmul(scaled).add(scope.get("b")));
        }
    }

    /**
     * A parameter-free layer applying {@link Softsign}.
     *
     * @return the layer, usable in {@code Layers.serial(...)} like any of the library's
     */
    public static Layer softsign() {
        return new Layer() {
            @Override
            public String kind() {
                return "softsign";
            }

            @Override
            public List<int[]> outputShapes(List<int[]> inputShapes) {
                return inputShapes;
            }

            @Override
            public List<Var> apply(ParamScope scope, List<Var> inputs) {
                return List.of(inputs.get(0).builder().apply(Softsign.INSTANCE, inputs.get(0)));
            }
        };
    }

    /** The network: flatten, NtkDense(width), softsign, NtkDense(width), softsign, NtkDense(3). */
    static Model model(int width, boolean structured) {
        return new Model(Layers.serial(Layers.flatten(), new NtkDense(width, 1.5, structured), softsign(),
                new NtkDense(width, 1.5, structured), softsign(), new NtkDense(3, 1.0, structured)),
                "custom(width=" + width + (structured ? "" : ",no-structure") + ")");
    }

    /** The command line (see {@link ExampleArgs}). */
    static final String USAGE = "CustomLayerAndPrimitive [N] [WIDTH]";

    /**
     * Checks the new primitives' derivative rules, then computes the kernel by the three methods.
     *
     * @param args optional: number of examples, hidden width
     * @throws Exception only on a bug: bad arguments end in one line on stderr and exit code 2
     */
    public static void main(String[] args) throws Exception {
        ExampleArgs.main(USAGE, args, CustomLayerAndPrimitive::run);
    }

    static void run(ExampleArgs args) {
        int n = args.positive(0, 8);
        int width = args.positive(1, 32);
        int[] example = {4, 5};

        // 1. The derivative rules, checked on a small graph that uses both primitives: the JVP against central
        //    finite differences, and the VJP against the JVP (⟨u, Jv⟩ = ⟨Jᵀu, v⟩). Both should be ~1e-8 or less.
        Graph g = Graph.trace(List.of(new TensorType(DType.F64, 3, 4)),
                v -> new Var[] {v[0].builder().apply(Softsign.INSTANCE,
                        v[0].builder().apply(new Scale(0.5, true), v[0]))});
        System.out.println(g);
        Tensor[] gx = DerivativeCheck.randomInputs(g, 1);
        System.out.printf(Locale.ROOT, "jvp vs finite differences %.1e, adjoint gap %.1e%n",
                DerivativeCheck.jvpVersusFiniteDifferences(g, gx, 3, 1e-6, 2), DerivativeCheck.adjointGap(g, gx, 3, 3));
        for (Tensor t : gx) {
            t.close();
        }

        // 2. The network's kernel by each method, in float64: they agree to rounding.
        Model model = model(width, true);
        try (Params params = model.init(11, example, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 5, n, example[0], example[1])) {
            EmpiricalNtk ntk = EmpiricalNtk.of(model, params).traceAxes();   // full kernel [N, N, 3, 3]
            try (Tensor jc = ntk.method(Method.JACOBIAN_CONTRACTION).ntk(x, null);
                 Tensor vp = ntk.method(Method.NTK_VECTOR_PRODUCTS).ntk(x, null);
                 Tensor sd = ntk.method(Method.STRUCTURED_DERIVATIVES).ntk(x, null)) {
                System.out.printf(Locale.ROOT, "kernel %s; max relative difference vp vs jc %.1e, sd vs jc %.1e%n",
                        java.util.Arrays.toString(jc.shape()), ThreeMethods.maxRelativeDifference(vp, jc),
                        ThreeMethods.maxRelativeDifference(sd, jc));
            }

            // 3. What the structure rule buys: structured derivatives reaches w through scale only when scale
            //    says how (its structure); otherwise w goes to the per-example-rows fallback.
            System.out.println("with the structure rule:    " + structuredLine(ntk, n, example));
        }
        Model plain = model(width, false);
        try (Params params = plain.init(11, example, DType.F64)) {
            System.out.println("without the structure rule: "
                    + structuredLine(EmpiricalNtk.of(plain, params).traceAxes(), n, example));
        }
    }

    /** The "k of m parameters structured" remark of the sd line of {@code explain}. */
    private static String structuredLine(EmpiricalNtk ntk, int n, int[] example) {
        for (String line : ntk.costModel(n, 0, example, DType.F64).explain(ntk.memoryBudget()).split("\n")) {
            int at = line.indexOf("parameters structured");
            if (at >= 0) {
                int from = line.lastIndexOf(' ', line.lastIndexOf(" of ", at) - 1);
                int to = line.indexOf(" through per-example rows", at);
                return line.substring(from + 1, to < 0 ? line.length() : to + " through per-example rows".length())
                        .trim();
            }
        }
        throw new IllegalStateException("explain has no structured-derivatives line");
    }
}
