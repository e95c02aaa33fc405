package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.file.Path;
import org.assertj.core.data.Offset;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.JsonReport;
import org.ntk4j.io.Npy;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/** {@code ntk4j approx} with one training example, which it refused ("need 2 <= N"). */
class ApproxCommandTest {
    private static final String SPEC = "fcn(depth=1,width=16,out=2)";

    @TempDir
    Path dir;

    /**
     * At N = 1 the full kernel is one O×O block Θ and an N×N kind a number k read as k·I_O: the report's figures
     * against the closed forms for O = 2, from Θ = [[a, b], [b, c]] computed here (eigenvalues (a+c)/2 ±
     * √(((a−c)/2)² + b²)): the pNTK's k = (a + 2b + c)/2, trace's (a + c)/2 and logit:0's a, each with
     * ‖Θ − k·I‖_F/‖Θ‖_F, |k − λ_max|/λ_max, k/λ_min and, k·I having condition number 1, the condition ratio
     * λ_min/λ_max. N = 0 is refused naming 1 as the least.
     */
    @Test
    void oneTrainingExampleComparesItsBlockWithTheKinds() throws Exception {
        double[] x = {0.3, -1.2, 0.8, 0.5, 1.1, 0.2, -0.7, 0.9, -0.4, 0.6, 1.5, -1.0};
        Path data = dir.resolve("x.npy");
        try (Tensor t = Tensor.of(x, 3, 4)) {
            Npy.write(data, t);
        }
        Path report = dir.resolve("r.json");
        String out = run(0, "approx", "--model", SPEC, "--data", data.toString(), "--n", "1", "--kinds",
                "pntk,trace,logit:0", "--report", report.toString())[0];
        assertThat(out).contains("on 1 training and 2 held-out inputs");
        double a;
        double b;
        double c;
        Model m = Zoo.parse(SPEC);
        try (Params p = m.init(0, new int[] {4}, DType.F64);
             Tensor x1 = Tensor.of(java.util.Arrays.copyOf(x, 4), 1, 4);
             Tensor theta = EmpiricalNtk.of(m, p).traceAxes().ntk(x1, null)) {
            assertThat(theta.shape()).containsExactly(1, 1, 2, 2);
            a = theta.getFlat(0);
            b = theta.getFlat(1);
            c = theta.getFlat(3);
        }
        double half = Math.sqrt((a - c) * (a - c) / 4 + b * b);
        double lambdaMax = (a + c) / 2 + half;
        double lambdaMin = (a + c) / 2 - half;
        double norm = Math.sqrt(a * a + 2 * b * b + c * c);
        JsonReport r = JsonReport.read(report);
        double[] kinds = {(a + 2 * b + c) / 2, (a + c) / 2, a};
        String[] keys = {"pntk", "trace", "logit_0"};
        for (int i = 0; i < keys.length; i++) {
            double k = kinds[i];
            String key = keys[i];
            assertClose(r, key + ".relative_frobenius_error",
                    Math.sqrt((a - k) * (a - k) + 2 * b * b + (c - k) * (c - k)) / norm);
            assertClose(r, key + ".lambda_max_relative_error", Math.abs(k - lambdaMax) / lambdaMax);
            assertClose(r, key + ".lambda_min_ratio", k / lambdaMin);
            assertClose(r, key + ".condition_number_ratio", lambdaMin / lambdaMax);
            assertThat((Double) r.get(key + ".argmax_agreement")).isBetween(0.0, 1.0);
        }
        assertThat(CliRuns.run(2, "approx", "--model", SPEC, "--data", data.toString(), "--n", "0")[1])
                .isEqualTo("ntk4j: --n: the data has 3 examples; need 1 <= N < that (the rest are held out), got 0"
                        + System.lineSeparator());
    }

    private static void assertClose(JsonReport r, String key, double expected) {
        assertThat((Double) r.get(key)).as(key).isCloseTo(expected, Offset.offset(1e-10 * Math.abs(expected)));
    }

    /**
     * With --labels the targets are the one-hot labels of the first N inputs and each kernel's regression is scored on
     * the held-out labels: the report's accuracies and their differences are ApproximationReport's, run here on the
     * same data, labels and (absolute) regulariser; without labels in the data --labels is refused in one line.
     */
    @Test
    void labelsScoreEachKernelOnTheHeldOutLabelsWithAnAbsoluteDiagReg() throws Exception {
        String spec = "fcn(depth=1,width=16,out=10)";
        Path report = dir.resolve("labels.json");
        String out = run(0, "approx", "--model", spec, "--data", "default:test:18", "--n", "12", "--kinds",
                "pntk,trace", "--labels", "--diag-reg", "1e-2", "--diag-reg-absolute", "--report",
                report.toString())[0];
        assertThat(out).contains("on 12 training and 6 held-out inputs").contains("one-hot labels as targets, "
                + "diag_reg 1.0e-02 absolute").contains("| test accuracy | accuracy diff. |");
        JsonReport r = JsonReport.read(report);
        // the regulariser the figures were solved with, as study's report records it
        assertThat(((Number) r.get("diag_reg")).doubleValue()).isEqualTo(1e-2);
        assertThat(r.get("diag_reg_absolute")).isEqualTo(true);
        Model m = Zoo.parse(spec);
        try (org.ntk4j.io.Dataset loaded = org.ntk4j.io.DataSource.loadDataset("default:test:18", DType.F64, 0);
             org.ntk4j.io.Dataset all = org.ntk4j.io.InputLayout.forModel(m, loaded);
             org.ntk4j.io.Dataset train = all.rows(0, 12); org.ntk4j.io.Dataset test = all.rows(12, 18);
             Tensor y = train.oneHot(DType.F64, 10); Params p = m.init(0, all.exampleShape(), DType.F64)) {
            org.ntk4j.ntk.ApproximationReport want = org.ntk4j.ntk.ApproximationReport.run(EmpiricalNtk.of(m, p),
                    train.x(), test.x(), y, test.labels(), java.util.List.of(org.ntk4j.ntk.KernelKind.pntk(),
                            org.ntk4j.ntk.KernelKind.trace()), org.ntk4j.predict.DiagReg.absolute(1e-2), null);
            assertThat(((Number) r.get("full.test_accuracy")).doubleValue()).isEqualTo(want.fullTestAccuracy());
            for (org.ntk4j.ntk.ApproximationReport.Row row : want.rows()) {
                assertThat(((Number) r.get(row.kind + ".test_accuracy")).doubleValue()).isEqualTo(row.testAccuracy);
                assertThat(((Number) r.get(row.kind + ".test_accuracy_difference")).doubleValue())
                        .isEqualTo(row.testAccuracy - want.fullTestAccuracy());
                assertThat(((Number) r.get(row.kind + ".prediction_relative_difference")).doubleValue())
                        .isCloseTo(row.predictionRelativeDifference, Offset.offset(1e-12));
            }
        }
        assertThat(run(2, "approx", "--model", spec, "--data", "synthetic:18,6", "--n", "12", "--labels")[1].trim())
                .isEqualTo("ntk4j: --labels: --data synthetic:18,6 has no labels (see docs/data.md)");
        // without --labels the report holds no accuracy (seeded one-hot targets, as before)
        Path plain = dir.resolve("plain.json");
        run(0, "approx", "--model", spec, "--data", "default:test:18", "--n", "12", "--kinds", "pntk", "--report",
                plain.toString());
        assertThat(JsonReport.read(plain).has("full.test_accuracy")).isFalse();
        // the default regulariser, relative: no diag_reg_absolute key
        assertThat(((Number) JsonReport.read(plain).get("diag_reg")).doubleValue()).isEqualTo(1e-4);
        assertThat(JsonReport.read(plain).has("diag_reg_absolute")).isFalse();
        // the seed the parameters, the data's shuffle and the targets were drawn with (--seed, default 0)
        assertThat(((Number) JsonReport.read(plain).get("seed")).longValue()).isZero();
        run(0, "approx", "--model", spec, "--data", "default:test:18", "--n", "12", "--kinds", "pntk", "--seed", "7",
                "--report", plain.toString(), "--overwrite");
        assertThat(((Number) JsonReport.read(plain).get("seed")).longValue()).isEqualTo(7);
    }
}
