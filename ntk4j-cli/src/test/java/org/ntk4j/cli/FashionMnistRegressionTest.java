package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.ntk4j.cli.CliRuns.run;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

/**
 * The must-show, for the N×N kinds: kernel regression (t = ∞) with the eNTK of fcn(depth=3,width=512) at
 * initialisation, trained on the embedded first 2,000 Fashion-MNIST training images (globally standardised), reaches
 * at least 80% accuracy on the first 1,000 test images. (The full NO×NO kind is measured by
 * ntk4j-bench/run-predict.sh: its 20000×20000 train kernel is too heavy for a unit test.) About 10 s per kind on
 * two cores.
 */
class FashionMnistRegressionTest {
    @TempDir
    Path dir;

    @ParameterizedTest
    @ValueSource(strings = {"trace", "pntk"})
    void kernelRegressionReachesEightyPercent(String kind) throws Exception {
        Path report = dir.resolve(kind + ".json");
        String out = run(0, "predict", "--kind", kind, "--report", report.toString())[0];
        assertThat(out).contains("train default:train [2000, 28, 28, 1], test default:test [1000, 28, 28, 1]")
                .contains("fcn(depth=3,width=512)");
        Matcher m = Pattern.compile("\"t_inf.test_accuracy\": ([0-9.]+)").matcher(Files.readString(report));
        assertThat(m.find()).as(Files.readString(report)).isTrue();
        assertThat(Double.parseDouble(m.group(1))).as(kind + " test accuracy").isGreaterThanOrEqualTo(0.80);
    }
}
