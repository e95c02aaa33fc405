package org.ntk4j.cli;

import java.io.PrintWriter;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Callable;
import org.ntk4j.autodiff.Vjp;
import org.ntk4j.cpu.DotGeneralKernel;
import org.ntk4j.graph.Graph;
import org.ntk4j.graph.GraphBuilder;
import org.ntk4j.graph.Var;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;
import picocli.CommandLine.Model.CommandSpec;

/**
 * {@code ntk4j kernel}: the empirical NTK of a fully connected tanh network on seeded Gaussian inputs.
 *
 * <p>Θ(x1, x2) = (1/O) Σ_o J_o(x1) J_o(x2)ᵀ (the trace over logits is a mean, as in neural-tangents), with
 * the parameter Jacobian J taken by one stacked reverse pass: K = N·O one-hot output cotangents through the
 * traced network's VJP graph, so the N·O backward passes run as GEMMs.
 */
@Command(name = "kernel", mixinStandardHelpOptions = true,
        description = "Compute the empirical NTK of a fully connected network on seeded Gaussian inputs.")
public final class KernelCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--n", description = "Number of inputs (default: ${DEFAULT-VALUE}).")
    int n = 8;

    @Option(names = "--dim", description = "Input dimension (default: ${DEFAULT-VALUE}).")
    int dim = 16;

    @Option(names = "--width", description = "Hidden width (default: ${DEFAULT-VALUE}).")
    int width = 64;

    @Option(names = "--depth", description = "Number of hidden tanh layers (default: ${DEFAULT-VALUE}).")
    int depth = 2;

    @Option(names = "--outputs", description = "Number of outputs O (default: ${DEFAULT-VALUE}).")
    int outputs = 4;

    @Option(names = "--seed", description = "Seed of parameters and inputs (default: ${DEFAULT-VALUE}).")
    long seed = 0;

    @Option(names = "--dtype", description = "f32 or f64 (default: ${DEFAULT-VALUE}).")
    String dtype = "f64";

    @Option(names = "--print-graph", description = "Print the traced network and exit.")
    boolean printGraph;

    @Override
    public Integer call() {
        requirePositive("--n", n);
        requirePositive("--dim", dim);
        requirePositive("--width", width);
        requirePositive("--outputs", outputs);
        if (depth < 0) {
            throw new IllegalArgumentException("--depth: expected a number >= 0, got " + depth);
        }
        DType dt = DType.parse(dtype);
        PrintWriter out = spec.commandLine().getOut();
        Graph net = fcn(dt);
        if (printGraph) {
            out.println(net);
            out.flush();
            return 0;
        }
        long start = System.nanoTime();
        double[][] theta = ntk(net, dt);
        double seconds = (System.nanoTime() - start) / 1e9;
        out.printf(Locale.ROOT, "empirical NTK (trace over %d logits) of a %d-layer tanh FCN, width %d, "
                + "%d inputs of dimension %d, %s, seed %d%n", outputs, depth, width, n, dim, dt.shortName(), seed);
        for (double[] row : theta) {
            StringBuilder sb = new StringBuilder();
            for (double v : row) {
                sb.append(String.format(Locale.ROOT, " %10.5f", v));
            }
            out.println(sb);
        }
        out.printf(Locale.ROOT, "computed in %.3f s%n", seconds);
        out.flush();
        return 0;
    }

    private static void requirePositive(String name, int v) {
        if (v < 1) {
            throw new IllegalArgumentException(name + ": expected a number >= 1, got " + v);
        }
    }

    /** Inputs: the parameters (W_0, b_0, ..., W_depth, b_depth), then x [n, dim]. Output: f [n, outputs]. */
    Graph fcn(DType dt) {
        GraphBuilder b = new GraphBuilder();
        List<Var> params = new ArrayList<>();
        int fanIn = dim;
        for (int l = 0; l <= depth; l++) {
            int fanOut = l == depth ? outputs : width;
            params.add(b.input(dt, fanIn, fanOut));
            params.add(b.input(dt, fanOut));
            fanIn = fanOut;
        }
        Var x = b.input(dt, n, dim);
        Var h = x;
        for (int l = 0; l <= depth; l++) {
            Var w = params.get(2 * l);
            // NTK parameterisation: y = x W / sqrt(fan_in) + 0.1 b
            h = h.matmul(w).mul(1.0 / Math.sqrt(w.dim(0))).add(params.get(2 * l + 1).mul(0.1));
            if (l < depth) {
                h = h.tanh();
            }
        }
        return b.build(h);
    }

    /** Θ[n1][n2] = (1/O) Σ_o Σ_p J[(n1,o), p] J[(n2,o), p]. */
    double[][] ntk(Graph net, DType dt) {
        int nParams = net.inputs().size() - 1;
        int k = n * outputs;
        boolean[] wrt = new boolean[net.inputs().size()];
        for (int i = 0; i < nParams; i++) {
            wrt[i] = true;
        }
        Graph vjp = Vjp.of(net, k, wrt);
        List<Tensor> args = new ArrayList<>();
        for (int i = 0; i < nParams; i++) {
            args.add(Tensor.randomNormal(dt, seed * 1_000_003L + i, net.inputs().get(i).shape()));
        }
        args.add(Tensor.randomNormal(dt, seed * 1_000_003L + 999_983L, n, dim));
        // one-hot cotangents: row (i, o) selects output o of example i
        Tensor onehot = Tensor.zeros(dt, k, n, outputs);
        for (int r = 0; r < k; r++) {
            onehot.setFlat(r * k + r, 1.0);
        }
        args.add(onehot);
        Tensor[] res = vjp.evaluate(args.toArray(new Tensor[0]));
        double[][] theta = new double[n][n];
        for (int p = 0; p < nParams; p++) {
            Tensor jac = res[1 + p];
            Tensor rows = jac.reshape(k, jac.size() / k);
            Tensor gram = DotGeneralKernel.dot(rows, rows, new int[] {1}, new int[] {1}, new int[0], new int[0]);
            for (int i = 0; i < n; i++) {
                for (int j = 0; j < n; j++) {
                    double s = 0;
                    for (int o = 0; o < outputs; o++) {
                        s += gram.getFlat((i * outputs + o) * k + j * outputs + o);
                    }
                    theta[i][j] += s / outputs;
                }
            }
            rows.close();
            gram.close();
        }
        for (Tensor t : res) {
            t.close();
        }
        for (Tensor t : args) {
            t.close();
        }
        return theta;
    }
}
