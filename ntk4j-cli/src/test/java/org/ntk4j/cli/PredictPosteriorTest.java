package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.file.Files;
import java.nio.file.Path;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.io.Npy;
import org.ntk4j.tensor.Tensor;

/** predict --posterior / --cov, --loss cross-entropy / --momentum, the max learning rate, and their bad input. */
class PredictPosteriorTest {
    static final String MODEL = "fcn(depth=1,width=32)";

    @TempDir
    Path dir;

    @Test
    void posteriorMeanIsTheInfinitePredictionAndTheCovarianceIsWritten() throws Exception {
        Path mean = dir.resolve("mean.npy");
        Path ref = dir.resolve("ref.npy");
        Path cov = dir.resolve("cov.npy");
        String[] common = {"--model", MODEL, "--train", "default:train:60", "--test", "default:test:20", "--kind",
            "trace", "--dtype", "f64", "--diag-reg", "1e-3"};
        Path report = dir.resolve("posterior.json");
        String out = run(0, concat(common, "predict", "--posterior", "ntk", "--cov", cov.toString(), "--out",
                mean.toString(), "--report", report.toString()))[0];
        assertThat(out).contains("posterior ntk").contains("mean predictive variance").contains("max learning rate")
                .contains("wrote " + cov);
        // the report holds the figures printed (it held the model, sizes, posterior and loss only)
        String json = Files.readString(report);
        assertThat(json).contains("\"posterior\": \"ntk\"").contains("\"kind\": \"trace\"");
        assertThat(number(json, "mean_variance")).isEqualTo(number(out, "mean predictive variance"));
        assertThat(number(json, "test_accuracy") * 100).isCloseTo(number(out, "\ntest accuracy"), within(0.006));
        assertThat(number(json, "test_mse")).isCloseTo(number(out, "test MSE"), within(5e-6));
        assertThat(number(json, "diag_reg")).isEqualTo(1e-3);
        assertThat(number(json, "max_learning_rate")).isEqualTo(number(out, "Lanczos):"));
        // the header, method and totals of the closed form (they lacked the standardisation, dtype, method, the
        // parameters and the seconds)
        assertThat(out).contains("test default:test:20 [20, 28, 28, 1] (standardised: global); f64\n")
                .contains("(gp_inference, kind trace, method ").contains("total ").contains("peak resident memory");
        assertThat(json).contains("\"standardize\": \"global\"").contains("\"dtype\": \"f64\"")
                .contains("\"auto\": true").containsPattern("\"method\": \"(jc|vp|sd)\"");
        assertThat(number(json, "parameters")).isEqualTo(number(out, "): "));
        assertThat(number(json, "total_seconds")).isPositive();
        run(0, concat(common, "predict", "--out", ref.toString()));
        try (Tensor a = Npy.readTensor(mean); Tensor b = Npy.readTensor(ref); Tensor c = Npy.readTensor(cov)) {
            assertThat(a.shape()).containsExactly(20, 10);
            for (int i = 0; i < a.size(); i++) {
                assertThat(a.getFlat(i)).isCloseTo(b.getFlat(i), org.assertj.core.data.Offset.offset(1e-9));
            }
            assertThat(c.shape()).containsExactly(20, 20);
            assertThat(c.getFlat(1)).isEqualTo(c.getFlat(20));
        }
        // --cov follows the output policy: an existing file needs --overwrite
        String[] again = run(2, concat(common, "predict", "--posterior", "nngp", "--cov", cov.toString()));
        assertThat(again[1]).startsWith("ntk4j: ").contains("--cov");
        run(0, concat(common, "predict", "--posterior", "ntkgp", "--cov", cov.toString(), "--overwrite"));
        assertThat(Files.size(cov)).isGreaterThan(20 * 20 * 8);
    }

    @Test
    void finiteTimesGiveTheTrainedEnsemblePerTime() throws Exception {
        String[] common = {"--model", MODEL, "--train", "default:train:40", "--test", "default:test:12", "--kind",
            "trace", "--dtype", "f64", "--diag-reg", "1e-3", "--learning-rate", "50"};
        Path mean = dir.resolve("mean.npy");
        Path cov = dir.resolve("cov.npy");
        Path report = dir.resolve("ensemble.json");
        String out = run(0, concat(common, "predict", "--posterior", "ntk", "--t", "10,inf", "--cov", cov.toString(),
                "--out", mean.toString(), "--report", report.toString()))[0];
        assertThat(out).contains("posterior ntk (gradient_descent_mse_ensemble, kind trace, method ")
                .contains("t = 10: mean predictive variance").contains("t = inf: mean predictive variance");
        String json = Files.readString(report);
        String at10 = out.substring(out.indexOf("t = 10:"));
        assertThat(number(json, "t_10.mean_variance")).isEqualTo(number(at10, "mean predictive variance"));
        assertThat(number(json, "t_10.test_mse")).isCloseTo(number(at10, "test MSE"), within(5e-6));
        assertThat(number(json, "learning_rate")).isEqualTo(50);
        // t = inf is the gp_inference posterior; t = 10 has the mean of gradient descent from f0 = 0
        Path infMean = dir.resolve("inf-mean.npy");
        Path infCov = dir.resolve("inf-cov.npy");
        Path gd = dir.resolve("gd.npy");
        run(0, concat(common, "predict", "--posterior", "ntk", "--cov", infCov.toString(), "--out",
                infMean.toString()));
        run(0, concat(common, "predict", "--t", "10", "--out", gd.toString()));
        try (Tensor m = Npy.readTensor(mean); Tensor c = Npy.readTensor(cov); Tensor mi = Npy.readTensor(infMean);
             Tensor ci = Npy.readTensor(infCov); Tensor g = Npy.readTensor(gd)) {
            assertThat(m.shape()).containsExactly(2, 12, 10);
            assertThat(c.shape()).containsExactly(2, 12, 12);
            for (int i = 0; i < 120; i++) {
                assertThat(m.getFlat(i)).isCloseTo(g.getFlat(i), within(1e-9));
                assertThat(m.getFlat(120 + i)).isCloseTo(mi.getFlat(i), within(1e-9));
            }
            double diag = 0;
            for (int i = 0; i < 144; i++) {
                assertThat(c.getFlat(144 + i)).isCloseTo(ci.getFlat(i), within(1e-9));
                diag += i % 13 == 0 ? c.getFlat(i) / 12 : 0;
            }
            // printed to 6 significant digits
            assertThat(diag).isCloseTo(number(at10, "mean predictive variance"), within(5e-6 * Math.abs(diag)));
        }
        // the GP with the NTK has no training dynamics: refused at a finite time, by name
        assertThat(run(2, concat(common, "predict", "--posterior", "ntkgp", "--t", "10"))[1])
                .startsWith("ntk4j: --posterior ntkgp: the GP with the NTK is a t = ∞ posterior");
    }

    @Test
    void infiniteUsesTheAnalyticKernelsAndRefusesWhatHasNoMeaningWithThem() throws Exception {
        String[] common = {"--model", MODEL, "--train", "default:train:40", "--test", "default:test:12", "--kind",
            "trace", "--dtype", "f64", "--diag-reg", "1e-3"};
        Path report = dir.resolve("infinite.json");
        Path mean = dir.resolve("infinite.npy");
        String out = run(0, concat(common, "predict", "--infinite", "--posterior", "ntk", "--t", "10,inf",
                "--report", report.toString(), "--out", mean.toString()))[0];
        assertThat(out).contains("posterior ntk (gradient_descent_mse_ensemble, kind trace, infinite-width limit, ")
                .contains("t = inf: mean predictive variance").contains("max learning rate")
                .contains("model " + MODEL + ": infinite width, "); // no parameters drawn
        String json = Files.readString(report);
        assertThat(json).contains("\"method\": \"infinite\"").contains("\"infinite\": true")
                .contains("\"parameters\": null");
        String empirical = run(0, concat(common, "predict", "--posterior", "ntk", "--t", "10,inf"))[0];
        double limit = number(out.substring(out.indexOf("t = inf:")), "mean predictive variance");
        assertThat(number(json, "t_inf.mean_variance")).isEqualTo(limit);
        // the finite network's empirical kernels give another Gaussian
        assertThat(number(empirical.substring(empirical.indexOf("t = inf:")), "mean predictive variance"))
                .isNotEqualTo(limit);
        try (Tensor m = Npy.readTensor(mean)) {
            assertThat(m.shape()).containsExactly(2, 12, 10);
        }
        assertThat(run(2, concat(common, "predict", "--infinite"))[1])
                .startsWith("ntk4j: --infinite: needs --posterior nngp|ntk|ntkgp");
        assertThat(run(2, concat(common, "predict", "--infinite", "--posterior", "nngp", "--method", "vp"))[1])
                .startsWith("ntk4j: --infinite: the analytic kernels are a closed form and run no NTK method");
        assertThat(run(2, concat(common, "predict", "--infinite", "--posterior", "ntk", "--params-in",
                dir.resolve("p.npz").toString()))[1]).startsWith("ntk4j: --infinite: the analytic kernels have no "
                + "parameters; drop --params-in");
        assertThat(run(2, concat(common, "predict", "--infinite", "--posterior", "ntk", "--f0", "init"))[1])
                .startsWith("ntk4j: --f0 init: --posterior ntk is the Gaussian over initialisations");
    }

    @Test
    void crossEntropyAndMomentumIntegrateTheOde() throws Exception {
        Path report = dir.resolve("ode.json");
        String out = run(0, "predict", "--model", MODEL, "--train", "default:train:40", "--test", "default:test:20",
                "--kind", "trace", "--dtype", "f64", "--loss", "cross-entropy", "--momentum", "0.5", "--t", "10,100",
                "--learning-rate", "5", "--report", report.toString())[0];
        assertThat(out).contains("loss cross-entropy, momentum 0.5").contains("Dormand-Prince")
                .contains("t = 10: test accuracy").contains("t = 100: test accuracy").contains("max learning rate");
        // the report holds the figures printed per time (it held the model, sizes, posterior and loss only)
        String json = Files.readString(report);
        assertThat(json).contains("\"loss\": \"cross-entropy\"");
        assertThat(out).contains("(standardised: global); f64\n").contains(", kind trace, method ")
                .contains("peak resident memory");
        assertThat(json).contains("\"standardize\": \"global\"").containsPattern("\"method\": \"(jc|vp|sd)\"")
                .contains("\"parameters\": ").contains("\"total_seconds\": ");
        assertThat(number(json, "momentum")).isEqualTo(0.5);
        // the ODE trains with K + rI as the closed form does, and says so (it ignored --diag-reg)
        assertThat(out).contains("diag_reg 0.000100 × mean diagonal, r = ");
        assertThat(number(json, "diag_reg")).isEqualTo(1e-4);
        assertThat(json).contains("\"diag_reg_absolute\": false");
        assertThat(number(json, "evaluations")).isEqualTo(number(out, "tolerance 1e-10,"));
        assertThat(number(json, "t_10.test_accuracy") * 100).isCloseTo(number(out, "t = 10: test accuracy"),
                within(0.006));
        assertThat(number(json, "t_100.test_loss")).isCloseTo(number(out.substring(out.indexOf("t = 100:")),
                "test loss"), within(5e-6));
        assertThat(number(json, "t_100.train_loss")).isCloseTo(number(out.substring(out.indexOf("t = 100:")),
                "train loss"), within(5e-6));
    }

    @Test
    void meaninglessCombinationsAreOneLineErrors() {
        assertThat(run(2, "predict", "--model", MODEL, "--cov", dir.resolve("c.npy").toString())[1])
                .contains("ntk4j: --cov: needs --posterior");
        assertThat(run(2, "predict", "--model", MODEL, "--posterior", "gp")[1]).contains("nngp, ntk or ntkgp");
        assertThat(run(2, "predict", "--model", MODEL, "--posterior", "ntk", "--kind", "full")[1])
                .contains("N×N kernel");
        assertThat(run(2, "predict", "--model", MODEL, "--loss", "cross-entropy")[1]).contains("finite times");
        assertThat(run(2, "predict", "--model", MODEL, "--loss", "hinge")[1]).contains("mse or cross-entropy");
        assertThat(run(2, "predict", "--model", MODEL, "--momentum", "1.5", "--t", "1")[1]).contains("[0, 1)");
        // NaN is the library's "no momentum": it ran the closed form without a word
        assertThat(run(2, "predict", "--model", MODEL, "--momentum", "NaN", "--t", "1")[1])
                .isEqualTo("ntk4j: --momentum: expected a number in [0, 1), got NaN\n");
        // a finite time past float64 was read as t = ∞
        assertThat(run(2, "predict", "--model", MODEL, "--t", "10,1e400")[1])
                .startsWith("ntk4j: --t: '1e400' is beyond float64 (at most 1.7976931348623157E308); write inf");
    }

    /** The number after the first {@code label} in text (a JSON key or a printed figure's words). */
    static double number(String text, String label) {
        java.util.regex.Matcher m = java.util.regex.Pattern.compile(java.util.regex.Pattern.quote(
                text.startsWith("{") ? "\"" + label + "\":" : label) + "\\s*([-+0-9.eE]+)").matcher(text);
        assertThat(m.find()).as(label + " in " + text).isTrue();
        return Double.parseDouble(m.group(1));
    }

    static String[] concat(String[] common, String... first) {
        String[] r = new String[first.length + common.length];
        r[0] = first[0];
        System.arraycopy(common, 0, r, 1, common.length);
        System.arraycopy(first, 1, r, 1 + common.length, first.length - 1);
        return r;
    }
}
