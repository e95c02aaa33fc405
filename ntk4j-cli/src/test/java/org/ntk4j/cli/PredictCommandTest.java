package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.InputLayout;
import org.ntk4j.io.Npy;
import org.ntk4j.io.Standardizer;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.predict.DiagReg;
import org.ntk4j.predict.GradientDescentMse;
import org.ntk4j.predict.KernelMatrix;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

class PredictCommandTest {
    static final String MODEL = "fcn(depth=1,width=64)";

    @TempDir
    Path dir;

    /** Times print as given, or as powers of ten when far out (and inf for t = ∞). */
    @Test
    void timesPrintAsWrittenOrAsPowersOfTenWhenFarOut() {
        assertThat(PredictCommand.timeText(Double.POSITIVE_INFINITY)).isEqualTo("inf");
        assertThat(PredictCommand.timeText(100)).isEqualTo("100");
        assertThat(PredictCommand.timeText(0.5)).isEqualTo("0.5");
        assertThat(PredictCommand.timeText(250000)).isEqualTo("250000");
        assertThat(PredictCommand.timeText(0)).isEqualTo("0");
        assertThat(PredictCommand.timeText(1e308)).isEqualTo("1e+308");
        assertThat(PredictCommand.timeText(2.5e-7)).isEqualTo("2.5e-7");
    }

    /**
     * --memory binds an explicit --method as it binds AUTO: a method whose train kernel fits it in no steps (jc,
     * whose Jacobians of 60 MNIST images need several MiB) is refused before any work, in one line naming the method
     * and the least budget, and writes nothing; before 2026-12-07 it ran above the budget.
     */
    @Test
    void anExplicitMethodOverTheBudgetIsRefusedBeforeAnyWork() {
        Path pred = dir.resolve("pred.npy");
        String err = run(2, "predict", "--model", MODEL, "--train", "default:train:60", "--test", "default:test:20",
                "--dtype", "f64", "--method", "jc", "--memory", "1m", "--out", pred.toString())[1];
        assertThat(err).startsWith("ntk4j: memory budget: method jc needs at least ")
                .contains("above the budget of 1.0 MiB: raise --memory to at least ")
                .contains("or let AUTO choose (--method auto)");
        assertThat(err.strip().lines().count()).as(err).isEqualTo(1);
        assertThat(pred).doesNotExist();
    }

    /** The predictions the command writes are the library's, on the same standardised data and parameters. */
    @Test
    void writesTheLibrarysPredictionsAndAReport() throws Exception {
        Path pred = dir.resolve("pred.npy");
        Path report = dir.resolve("r.json");
        String out = run(0, "predict", "--model", MODEL, "--train", "default:train:120", "--test", "default:test:40",
                "--kind", "trace", "--dtype", "f64", "--t", "0,3,inf", "--learning-rate", "2", "--diag-reg", "1e-3",
                "--out", pred.toString(), "--report", report.toString())[0];
        assertThat(out).contains("kind trace, method").contains("t = 0: test accuracy")
                .contains("t = inf: test accuracy").contains("wrote " + pred);
        // at t = 0 with f0 = 0 the outputs are 0: the MSE against one-hot targets is 1/10
        assertThat(out).contains("t = 0: test accuracy").containsPattern("t = 0: .*test MSE 0\\.10000");
        Model net = Zoo.parse(MODEL);
        try (Dataset trRaw = DataSource.loadDataset("default:train:120", DType.F64, 0);
             Dataset teRaw = DataSource.loadDataset("default:test:40", DType.F64, 1)) {
            Standardizer s = Standardizer.fit(trRaw.x(), Standardizer.Mode.GLOBAL);
            try (Dataset a = s.apply(trRaw); Dataset b = s.apply(teRaw); Dataset tr = InputLayout.forModel(net, a);
                 Dataset te = InputLayout.forModel(net, b); Params p = net.init(0, tr.exampleShape(), DType.F64);
                 Tensor y = tr.oneHot(DType.F64, 10)) {
                EmpiricalNtk ntk = EmpiricalNtk.of(net, p);
                try (Tensor k = ntk.kernel(KernelKind.trace(), tr.x(), null); KernelMatrix km = KernelMatrix.of(k);
                     Tensor kt = ntk.kernel(KernelKind.trace(), te.x(), tr.x());
                     GradientDescentMse gd = GradientDescentMse.of(km, y, 2, DiagReg.relative(1e-3));
                     Tensor f3 = gd.predictTest(3, kt, null, null);
                     Tensor fInf = gd.predictTest(Double.POSITIVE_INFINITY, kt, null, null);
                     Tensor written = Npy.readTensor(pred)) {
                    assertThat(written.shape()).containsExactly(3, 40, 10);
                    double[] w = written.toDoubleArray();
                    double[] e3 = f3.toDoubleArray();
                    double[] eInf = fInf.toDoubleArray();
                    for (int i = 0; i < 400; i++) {
                        assertThat(w[i]).isEqualTo(0.0);
                        assertThat(w[400 + i]).isCloseTo(e3[i], org.assertj.core.data.Offset.offset(1e-12));
                        assertThat(w[800 + i]).isCloseTo(eInf[i], org.assertj.core.data.Offset.offset(1e-10));
                    }
                    double acc = org.ntk4j.predict.Predict.accuracy(fInf, te.labels());
                    assertThat(out).contains(String.format(java.util.Locale.ROOT, "t = inf: test accuracy %.2f%%",
                            100 * acc));
                }
            }
        }
        String json = Files.readString(report);
        assertThat(json).contains("\"kind\": \"trace\"").contains("\"t_inf.test_accuracy\"")
                .contains("\"t_3.test_mse\"").contains("\"peak_resident_bytes\"");
    }

    @Test
    void fullKindLinearisedNetworkAndTrainingCurves() throws Exception {
        Path plots = dir.resolve("curves");
        String out = run(0, "predict", "--model", MODEL, "--train", "default:train:60", "--test", "default:test:20",
                "--kind", "full", "--f0", "init", "--t", "5,50,500", "--plots", plots.toString())[0];
        assertThat(out).contains("kind full").contains("train kernel [60·10, 60·10]").contains("f0 init")
                .contains("t = 5: test accuracy").contains("t = 500: test accuracy")
                .contains("wrote " + plots.resolve("training_curves.png"));
        assertThat(Files.size(plots.resolve("training_curves.png"))).isGreaterThan(1000);
    }

    /**
     * A curve with no value of at least 1e-5 has no point on the chart's log axis: before 2026-12-07 the run failed
     * on it after its work ("logLogLines: series 'test error (1 − accuracy)' has no point ...", exit code 2, no
     * --report), as when the test set is the training set, fitted at every t. Such a curve is left out and the title
     * says so; when every curve is, the other outputs are written, then the chart's absence is the one-line error.
     */
    @Test
    void curvesWithoutAPointOnTheLogAxisAreLeftOutNotFatal() throws Exception {
        Path plots = dir.resolve("curves");
        Path report = dir.resolve("r.json");
        // test = train: accuracy 100% at t = 300 and 1000 (test error 0), MSE 1e-2 and 1e-3
        String out = run(0, "predict", "--model", MODEL, "--train", "default:train:40", "--test", "default:train:40",
                "--t", "300,1000", "--plots", plots.toString(), "--report", report.toString())[0];
        assertThat(out).contains("t = 300: test accuracy 100.00%").contains("t = 1000: test accuracy 100.00%")
                .contains("wrote " + plots.resolve("training_curves.png")).contains("wrote " + report);
        assertThat(Files.size(plots.resolve("training_curves.png"))).isGreaterThan(1000);
        // fitted to round-off at every t: no curve has a point
        Path plots2 = dir.resolve("curves2");
        Path report2 = dir.resolve("r2.json");
        String[] r = run(2, "predict", "--model", MODEL, "--train", "default:train:40", "--test",
                "default:train:40", "--t", "1e5,1e6", "--plots", plots2.toString(), "--report", report2.toString());
        assertThat(r[0]).contains("wrote " + report2);
        assertThat(r[1].strip()).isEqualTo("ntk4j: --plots " + plots2 + ": training_curves.png not written: test "
                + "MSE, train MSE, test error (1 − accuracy) below 1e-5 at every finite t > 0, which the log axis "
                + "cannot show");
        assertThat(Files.readString(report2)).contains("\"t_1000000.test_accuracy\"");
        assertThat(plots2.resolve("training_curves.png")).doesNotExist();
    }

    @Test
    void badInputGivesOneLineAndExitCode2() {
        String[][] cases = {
            {"--kind", "diagonal"}, {"--t", "-1"}, {"--t", "soon"}, {"--f0", "random"}, {"--test", "synthetic:20,784"},
            {"--learning-rate", "0"}, {"--diag-reg", "-1"}, {"--model", "cnn(depth=1,channels=4,out=5)"},
            {"--test", "synthetic:5,10"}, {"--standardize", "z"}, {"--plots", "plots-dir", "--t", "5,inf"}
        };
        String[] expected = {
            "ntk4j: --kind: diagonal gives one N×N kernel per output",
            "ntk4j: --t: expected times >= 0 or inf, got '-1'",
            "ntk4j: --t: expected times >= 0 or inf, got 'soon'",
            "ntk4j: --f0: expected zero or init, got 'random'",
            "ntk4j: --test 'synthetic:20,784': has no labels; predict with 10 model outputs needs labelled data",
            "ntk4j: --learning-rate: expected a positive finite number, got 0.0",
            "ntk4j: --diag-reg: expected a finite number >= 0, got -1.0",
            "ntk4j: --train 'default:train:30': label ",
            "ntk4j: --test: examples of shape [10] do not match the training examples [28, 28, 1]",
            "ntk4j: --standardize: expected global, per-feature or none, got 'z'",
            "ntk4j: --plots: the training curves need two or more finite times > 0 in --t"
        };
        for (int i = 0; i < cases.length; i++) {
            java.util.List<String> args = new java.util.ArrayList<>(java.util.List.of("predict", "--model", MODEL));
            java.util.List<String> given = java.util.List.of(cases[i]);
            if (!given.contains("--train")) {
                args.addAll(java.util.List.of("--train", "default:train:30"));
            }
            if (!given.contains("--test")) {
                args.addAll(java.util.List.of("--test", "default:test:10"));
            }
            if (given.contains("--model")) {
                args.subList(1, 3).clear();
            }
            args.addAll(given);
            String err = run(2, args.toArray(new String[0]))[1];
            assertThat(err).as(String.join(" ", cases[i])).contains(expected[i]);
            assertThat(err.strip().lines().count()).as(err).isEqualTo(1);
        }
    }

    /**
     * A label refusal names the option whose data it is: --train and --test may be one file (before 2026-12-07 the
     * message began "x.npy: has no labels", naming neither).
     */
    @Test
    void labelRefusalsNameTheOption() throws Exception {
        Path x = dir.resolve("x.npy");
        Path y = dir.resolve("y.npy");
        try (Tensor t = Tensor.of(new double[] {1, 2, 3, 4, 5, 6, 7, 8}, 4, 2)) {
            Npy.write(x, t);
        }
        try (Tensor t = Tensor.of(new double[] {0, 1, 2, 1}, 4)) {
            Npy.write(y, t);
        }
        String model = "fcn(depth=1,width=8,out=3)";
        String labelled = x + ":labels=" + y;
        assertThat(run(2, "predict", "--model", model, "--train", labelled, "--test", x.toString())[1].strip())
                .isEqualTo("ntk4j: --test '" + x + "': has no labels; predict with 3 model outputs needs labelled "
                        + "data (see docs/data.md)");
        assertThat(run(2, "predict", "--model", model, "--train", x.toString(), "--test", labelled)[1].strip())
                .isEqualTo("ntk4j: --train '" + x + "': has no labels; predict with 3 model outputs needs labelled "
                        + "data (see docs/data.md)");
        assertThat(run(2, "predict", "--model", "fcn(depth=1,width=8,out=2)", "--train", labelled, "--test",
                labelled)[1].strip()).isEqualTo("ntk4j: --train '" + labelled + "': label 2 of example 2 is "
                + "outside [0, 2) for predict with 2 model outputs");
        assertThat(run(2, "train", "--model", model, "--train", labelled, "--test", x.toString(), "--epochs", "1",
                "--quiet")[1].strip()).isEqualTo("ntk4j: --test '" + x + "': has no labels; train with 3 model "
                + "outputs needs labelled data (see docs/data.md)");
    }
}
