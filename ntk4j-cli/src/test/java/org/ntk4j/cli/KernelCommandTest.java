package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.ArrayList;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.ntk4j.graph.Graph;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;
import picocli.CommandLine;

class KernelCommandTest {

    /** The VJP-based kernel against J Jᵀ with J built column by column by central differences. */
    @Test
    void kernelMatchesFiniteDifferenceJacobian() {
        KernelCommand cmd = new KernelCommand();
        cmd.n = 3;
        cmd.dim = 4;
        cmd.width = 5;
        cmd.depth = 2;
        cmd.outputs = 2;
        cmd.seed = 7;
        Graph net = cmd.fcn(DType.F64);
        double[][] theta = cmd.ntk(net, DType.F64);

        int nParams = net.inputs().size() - 1;
        List<Tensor> args = new ArrayList<>();
        for (int i = 0; i < nParams; i++) {
            args.add(Tensor.randomNormal(DType.F64, cmd.seed * 1_000_003L + i, net.inputs().get(i).shape()));
        }
        args.add(Tensor.randomNormal(DType.F64, cmd.seed * 1_000_003L + 999_983L, cmd.n, cmd.dim));
        int rows = cmd.n * cmd.outputs;
        List<double[]> columns = new ArrayList<>();
        double eps = 1e-6;
        for (int p = 0; p < nParams; p++) {
            Tensor w = args.get(p);
            for (int e = 0; e < w.size(); e++) {
                double orig = w.getFlat(e);
                w.setFlat(e, orig + eps);
                Tensor plus = net.evaluate(args.toArray(new Tensor[0]))[0];
                w.setFlat(e, orig - eps);
                Tensor minus = net.evaluate(args.toArray(new Tensor[0]))[0];
                w.setFlat(e, orig);
                double[] col = new double[rows];
                for (int r = 0; r < rows; r++) {
                    col[r] = (plus.getFlat(r) - minus.getFlat(r)) / (2 * eps);
                }
                columns.add(col);
                plus.close();
                minus.close();
            }
        }
        for (int i = 0; i < cmd.n; i++) {
            for (int j = 0; j < cmd.n; j++) {
                double s = 0;
                for (double[] col : columns) {
                    for (int o = 0; o < cmd.outputs; o++) {
                        s += col[i * cmd.outputs + o] * col[j * cmd.outputs + o];
                    }
                }
                s /= cmd.outputs;
                assertThat(theta[i][j]).as("theta[%d][%d]", i, j).isCloseTo(s, org.assertj.core.data.Offset.offset(
                        1e-6 * Math.max(1, Math.abs(s))));
            }
        }
        assertThat(theta[0][1]).isEqualTo(theta[1][0], org.assertj.core.data.Offset.offset(1e-12));
    }

    @Test
    void runsWithDefaultsAndPrintsAnNByNKernel() {
        StringWriter out = new StringWriter();
        CommandLine cl = new CommandLine(new KernelCommand());
        cl.setOut(new PrintWriter(out));
        assertThat(cl.execute()).isZero();
        String[] lines = out.toString().strip().split("\n");
        assertThat(lines).hasSize(1 + 8 + 1);
        assertThat(lines[1].trim().split("\\s+")).hasSize(8);
    }

    @Test
    void badArgumentsGiveOneLineAndExitCode2() {
        assertThat(runErr("kernel", "--n", "0")).isEqualTo("ntk4j: --n: expected a number >= 1, got 0");
        assertThat(runErr("kernel", "--dtype", "f16")).isEqualTo("ntk4j: dtype: expected f32 or f64, got 'f16'");
        assertThat(runErr("kernel", "--no-such-option")).startsWith("Unknown option: '--no-such-option'");
    }

    private static String runErr(String... args) {
        StringWriter err = new StringWriter();
        int code = Main.run(new PrintWriter(new StringWriter()), new PrintWriter(err), args);
        assertThat(code).as("exit code of %s", String.join(" ", args)).isEqualTo(2);
        return err.toString().lines().findFirst().orElse("");
    }
}
