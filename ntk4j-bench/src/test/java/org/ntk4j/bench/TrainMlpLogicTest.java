package org.ntk4j.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.util.List;
import org.junit.jupiter.api.Test;

/** train-mlp's logic that does not time anything: the script's lines, the summary rate, the ratio, the options. */
class TrainMlpLogicTest {
    @Test
    void epochLinesAreParsedAndOtherLinesAreNot() {
        assertThat(TrainMlpBench.epochRate("{\"epoch\": 2, \"examples_per_second\": 1234.5, \"seconds\": 8.1, "
                + "\"loss\": 0.52}")).isEqualTo(1234.5);
        assertThat(TrainMlpBench.epochRate("  {\"epoch\": 1, \"examples_per_second\": 2.5e3, \"seconds\": 4}  "))
                .isEqualTo(2500.0);
        assertThat(TrainMlpBench.epochRate("UserWarning: something")).isNaN();
        assertThat(TrainMlpBench.epochRate("{\"status\": \"ready\"}")).isNaN();
    }

    @Test
    void theReadyLineNamesTheBlasAndThePreload() {
        String ready = "{\"status\": \"ready\", \"torch\": \"1.13.0a0\", \"blas_info\": \"generic\", \"blas_libs\": "
                + "\"/usr/lib/libblas.so.3\", \"preload\": \"none\", \"threads\": \"2\"}";
        assertThat(TrainMlpBench.blasOf(ready)).isEqualTo("torch 1.13.0a0, BLAS_INFO=generic, mapped: "
                + "/usr/lib/libblas.so.3");
        assertThat(TrainMlpBench.blasOf(ready.replace("\"none\"", "\"/x/libopenblas.so.0\"")))
                .endsWith("(LD_PRELOAD /x/libopenblas.so.0)");
    }

    @Test
    void theSummaryIsTheMedianAfterTheFirstEpoch() {
        assertThat(TrainMlpBench.medianAfterFirst(List.of(100.0, 300.0, 200.0, 400.0))).isEqualTo(300.0);
        assertThat(TrainMlpBench.medianAfterFirst(List.of(100.0, 300.0, 200.0))).isCloseTo(250.0, within(1e-9));
        assertThat(TrainMlpBench.medianAfterFirst(List.of(100.0))).isEqualTo(100.0);
        assertThat(TrainMlpBench.medianAfterFirst(List.of())).isNaN();
    }

    @Test
    void theRatioIsAgainstTheFastestPyTorchThatRan() {
        TrainMlpBench.Run ntk4j = run("ntk4j", 1000, 2000, 2000);
        TrainMlpBench.Run slow = run("installed", 900, 1000, 1000);
        TrainMlpBench.Run fast = run("openblas", 900, 1600, 1600);
        assertThat(TrainMlpBench.ratio(ntk4j, List.of(slow, fast))).isCloseTo(1.25, within(1e-12));
        fast.status = "failed: exited";
        assertThat(TrainMlpBench.ratio(ntk4j, List.of(slow, fast))).isCloseTo(2.0, within(1e-12));
        slow.status = "not run";
        assertThat(TrainMlpBench.ratio(ntk4j, List.of(slow, fast))).isNaN();
        String table = TrainMlpBench.table("s", ntk4j, run("a", 1, 500, 500), run("b", 1, 1000, 1000));
        assertThat(table).contains("| s | 2000 | 500 | 1000 | **2.00×** |");
    }

    @Test
    void optionsHaveDefaultsAndRejectNonsense() throws IOException {
        TrainMlpBench.Options o = TrainMlpBench.Options.parse("--data", "default:train:200");
        try {
            assertThat(o.epochs).isEqualTo(3);
            assertThat(o.batch).isEqualTo(128);
            assertThat(o.n).isEqualTo(10_000);
            assertThat(o.threads).isEqualTo(Runtime.getRuntime().availableProcessors());
            assertThat(o.out).isNull(); // nothing written unless asked
            assertThat(o.raw.size()).isEqualTo(200);
        } finally {
            o.raw.close();
        }
        assertThatThrownBy(() -> TrainMlpBench.Options.parse("--epochs", "0"))
                .hasMessageContaining("positive integer");
        assertThatThrownBy(() -> TrainMlpBench.Options.parse("--bogus"))
                .hasMessageContaining("unknown option");
        assertThatThrownBy(() -> TrainMlpBench.Options.parse("--n", "512", "--data", "default:train:200"))
                .hasMessageStartingWith("--n does not apply with --data");
    }

    private static TrainMlpBench.Run run(String label, double... rates) {
        TrainMlpBench.Run r = new TrainMlpBench.Run(label);
        for (double x : rates) {
            r.rates.add(x);
        }
        return r;
    }
}
