package org.ntk4j.bench;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.assertj.core.api.Assertions.within;

import java.io.IOException;
import java.nio.file.Path;
import java.util.List;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.Tensor;

/** The benchmarks' logic that does not time anything: fits, reference exponents, agreement, CSV, peer output. */
class BenchLogicTest {
    /**
     * A peer's process loses the OpenBLAS kernels the launcher chose for ntk4j (marked), keeps a coretype the user
     * set (unmarked), and keeps everything else.
     */
    @Test
    void peersGetOpenBlasOwnDetectionUnlessTheUserChoseACoreType() {
        ProcessBuilder chosen = new ProcessBuilder("true");
        chosen.environment().put("OPENBLAS_CORETYPE", "Haswell");
        chosen.environment().put("NTK4J_CHOSE_OPENBLAS_CORETYPE", "1");
        chosen.environment().put("OMP_NUM_THREADS", "2");
        PeersBench.peerEnvironment(chosen);
        assertThat(chosen.environment()).doesNotContainKeys("OPENBLAS_CORETYPE", "NTK4J_CHOSE_OPENBLAS_CORETYPE")
                .containsEntry("OMP_NUM_THREADS", "2");
        ProcessBuilder user = new ProcessBuilder("true");
        user.environment().remove("NTK4J_CHOSE_OPENBLAS_CORETYPE");
        user.environment().put("OPENBLAS_CORETYPE", "Zen");
        PeersBench.peerEnvironment(user);
        assertThat(user.environment()).containsEntry("OPENBLAS_CORETYPE", "Zen");
    }

    /** The warm-up by time calls at least once, and returns only once its seconds have passed since the start. */
    @Test
    void warmUpByTimeRunsOnceAtLeastAndUntilItsSecondsHavePassed() {
        int[] calls = new int[1];
        assertThat(Timing.warmUntil(System.nanoTime(), 0, () -> calls[0]++)).isEqualTo(1);
        assertThat(calls[0]).isEqualTo(1);
        long start = System.nanoTime();
        int made = Timing.warmUntil(start, 0.05, () -> calls[0]++);
        assertThat(System.nanoTime() - start).isGreaterThanOrEqualTo(50_000_000L);
        assertThat(made).isEqualTo(calls[0] - 1).isGreaterThan(1);
    }

    @Test
    void logLogFitRecoversAnExactPowerLaw() {
        double[] x = {2, 4, 8, 16, 32};
        double[] y = new double[x.length];
        for (int i = 0; i < x.length; i++) {
            y[i] = 3.5 * Math.pow(x[i], 1.75);
        }
        LogLogFit f = LogLogFit.of(x, y);
        assertThat(f.slope()).isCloseTo(1.75, within(1e-12));
        assertThat(f.r2()).isCloseTo(1.0, within(1e-12));
    }

    @Test
    void logLogFitOfNoisyPointsHasRSquaredBelowOne() {
        LogLogFit f = LogLogFit.of(new double[] {1, 2, 4, 8}, new double[] {1, 5, 3, 70});
        assertThat(f.r2()).isBetween(0.0, 0.99);
        assertThat(f.slope()).isPositive();
    }

    @Test
    void logLogFitRejectsWhatItCannotFit() {
        assertThatThrownBy(() -> LogLogFit.of(new double[] {1}, new double[] {1}))
                .hasMessageContaining("at least two points");
        assertThatThrownBy(() -> LogLogFit.of(new double[] {1, 2}, new double[] {1, 0}))
                .hasMessageContaining("positive values");
        assertThatThrownBy(() -> LogLogFit.of(new double[] {2, 2}, new double[] {1, 3}))
                .hasMessageContaining("two distinct x");
    }

    @Test
    void referenceExponentsAreTheTablesInTheirRegimes() {
        Method jc = Method.JACOBIAN_CONTRACTION;
        Method vp = Method.NTK_VECTOR_PRODUCTS;
        Method sd = Method.STRUCTURED_DERIVATIVES;
        // JC: N·O·P passes + N²·O²·P contraction; for N·O >> 1 the contraction gives N², O², W²
        assertThat(slope(jc, 'N', new int[] {256, 512, 1024}, 0, 8, 128)).isCloseTo(2, within(0.01));
        assertThat(slope(jc, 'O', new int[] {64, 128, 256}, 16, 0, 4096)).isCloseTo(2, within(0.01));
        assertThat(slope(jc, 'W', new int[] {1024, 2048, 4096}, 16, 8, 0)).isCloseTo(2, within(0.01));
        // VP: N²·O·[FP]
        assertThat(slope(vp, 'N', new int[] {1, 2, 4}, 0, 8, 128)).isCloseTo(2, within(1e-9));
        assertThat(slope(vp, 'O', new int[] {128, 256, 512}, 16, 0, 4096)).isCloseTo(1, within(0.01));
        // SD: passes N·O·L·W² dominate for N·O << W (2 in W, 1 in N); the contraction N²·O²·L·W for N·O >> W
        assertThat(slope(sd, 'W', new int[] {4096, 8192, 16384}, 2, 2, 0)).isCloseTo(2, within(0.01));
        assertThat(slope(sd, 'N', new int[] {1, 2, 4}, 0, 1, 16384)).isCloseTo(1, within(0.01));
        assertThat(slope(sd, 'N', new int[] {4096, 8192, 16384}, 0, 8, 16)).isCloseTo(2, within(0.01));
    }

    /** Log-log slope of the reference time over values of one axis; the other two fixed at n, o, w. */
    private static double slope(Method m, char axis, int[] values, int n, int o, int w) {
        double[] x = new double[values.length];
        double[] y = new double[values.length];
        for (int i = 0; i < values.length; i++) {
            int v = values[i];
            x[i] = v;
            y[i] = ReferenceCost.of(m, axis == 'N' ? v : n, ReferenceCost.fcnWidths(3, 9, axis == 'W' ? v : w,
                    axis == 'O' ? v : o)).time();
        }
        return LogLogFit.of(x, y).slope();
    }

    @Test
    void referenceTermsMatchAHandCount() {
        // widths 3 → 4 → 2: P = 12 + 8 = 20 = [FP]; N = 5, O = 2
        int[] widths = {3, 4, 2};
        ReferenceCost.Terms jc = ReferenceCost.of(Method.JACOBIAN_CONTRACTION, 5, widths);
        assertThat(jc.passes()).isEqualTo(5 * 2 * 20);
        assertThat(jc.contraction()).isEqualTo(25 * 4 * 20);
        assertThat(jc.memory()).isEqualTo(5 * 2 * 20 + 25 * 4 + 20);
        ReferenceCost.Terms vp = ReferenceCost.of(Method.NTK_VECTOR_PRODUCTS, 5, widths);
        assertThat(vp.time()).isEqualTo(25 * 2 * 20);
        ReferenceCost.Terms sd = ReferenceCost.of(Method.STRUCTURED_DERIVATIVES, 5, widths);
        // per pair and layer: fan_in + O²·fan_out = (3 + 4·4) + (4 + 4·2) = 31
        assertThat(sd.contraction()).isEqualTo(25 * 31);
        assertThat(sd.memory()).isEqualTo(5 * 2 * 6 + 5 * 7 + 20 + 25 * 4);
        assertThat(ReferenceCost.fcnWidths(3, 2, 8, 5)).containsExactly(3, 8, 8, 5);
    }

    @Test
    void kernelsAgreeWithinTheToleranceAndNotBeyond() {
        try (Tensor a = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
             Tensor same = Tensor.of(new float[] {1, 2, 3, 4}, 2, 2);
             Tensor close = Tensor.of(new float[] {1, 2, 3, 4.00001f}, 2, 2);
             Tensor off = Tensor.of(new float[] {1, 2, 3, 4.01f}, 2, 2);
             Tensor transposed = Tensor.of(new float[] {1, 3, 2, 4}, 2, 2);
             Tensor otherShape = Tensor.of(new float[] {1, 2, 3, 4}, 4)) {
            assertThat(KernelAgreement.relativeError(same, a)).isZero();
            assertThat(KernelAgreement.agrees(KernelAgreement.relativeError(close, a))).isTrue();
            assertThat(KernelAgreement.relativeError(off, a)).isCloseTo(0.01 / Math.sqrt(30), within(1e-7));
            assertThat(KernelAgreement.agrees(KernelAgreement.relativeError(off, a))).isFalse();
            assertThat(KernelAgreement.agrees(KernelAgreement.relativeError(transposed, a))).isFalse();
            assertThat(KernelAgreement.relativeError(otherShape, a)).isInfinite();
        }
    }

    @Test
    void csvQuotesWhatNeedsItAndChecksRowLength() {
        Csv csv = new Csv("a", "b", "c");
        csv.row("plain", "with, comma", "say \"hi\"").row(1.5, Double.NaN, null).row(3, 1e-20, "x\ny");
        assertThat(csv.text()).isEqualTo("a,b,c\nplain,\"with, comma\",\"say \"\"hi\"\"\"\n1.50000,,\n"
                + "3,1.00000e-20,\"x\ny\"\n");
        assertThatThrownBy(() -> csv.row(1, 2)).hasMessageContaining("needs 3 fields, got 2");
    }

    @Test
    void paperFcnCsvHasOneRowPerPointAndMethod() {
        PaperFcnBench.Point p = new PaperFcnBench.Point(PaperFcnBench.Axis.N, 4, 2, 16);
        for (Method m : PaperFcnBench.METHODS) {
            MethodRuns.Result r = new MethodRuns.Result(m);
            r.skipped = "not measured in this test";
            p.results.put(m, r);
        }
        String text = PaperFcnBench.pointsCsv(List.of(p), 100).text();
        String[] lines = text.split("\n");
        assertThat(lines).hasSize(1 + PaperFcnBench.METHODS.length);
        assertThat(lines[1]).startsWith("N,4,2,16,jc,not measured in this test,0,");
        assertThat(lines[0].split(",")).hasSize(lines[1].split(",", -1).length);
    }

    @Test
    void peerJsonIsRead() {
        String out = "some warning\n{\"method\": \"jc\", \"status\": \"ran\", \"seconds\": [0.5, 0.25, 1e-3], "
                + "\"kernel\": \"/tmp/k.npy\", \"peak_rss_above_baseline_bytes\": 1234}\n";
        String json = PeersBench.lastJsonLine(out);
        assertThat(PeersBench.jsonString(json, "status")).isEqualTo("ran");
        assertThat(PeersBench.jsonString(json, "kernel")).isEqualTo("/tmp/k.npy");
        assertThat(PeersBench.jsonNumbers(json, "seconds")).containsExactly(0.5, 0.25, 1e-3);
        assertThat(PeersBench.jsonNumbers(json, "peak_rss_above_baseline_bytes")).containsExactly(1234.0);
        assertThat(PeersBench.lastJsonLine("no json here")).isNull();
        assertThatThrownBy(() -> PeersBench.jsonNumbers(json, "absent")).hasMessageContaining("'absent'");
    }

    @Test
    void optionsRejectBadValuesWithTheirName(@TempDir Path dir) throws IOException {
        String out = dir.toString();
        assertThatThrownBy(() -> PaperFcnBench.Options.parse("--ns", "1,x", "--out", out))
                .hasMessageStartingWith("--ns: expected an integer, got 'x'");
        assertThatThrownBy(() -> PaperFcnBench.Options.parse("--reps", "0", "--out", out))
                .hasMessage("--reps: expected a positive integer, got 0");
        assertThatThrownBy(() -> PaperFcnBench.Options.parse("--bogus", "--out", out))
                .hasMessageStartingWith("unknown option --bogus");
        PaperFcnBench.Options q = PaperFcnBench.Options.parse("--quick", "--with-peers", "--out", out);
        assertThat(q.quick).isTrue();
        assertThat(q.withPeers).isTrue();
        assertThat(q.peers.quick).isTrue();
        assertThat(q.name).isEqualTo("paper_fcn_quick");
        assertThat(q.reps).isEqualTo(PaperFcnBench.Options.QUICK_REPS);
        assertThat(q.peers.reps).isEqualTo(q.reps);
    }

    /** Cheap points run several times a round, expensive ones once; warm-ups fill 4× the timed share. */
    @Test
    void cheapPointsRunSeveralTimesARound(@TempDir Path dir) throws IOException {
        // 1e8 FLOPs at the assumed 1e10 FLOP/s: 10 ms a call
        assertThat(PaperFcnBench.callsPerRound(1e8, true, 1.0)).isEqualTo(50); // 100 calls fill 1 s, capped
        assertThat(PaperFcnBench.callsPerRound(1e8, false, 1.0)).isEqualTo(10); // 25 fill 0.25 s, capped
        assertThat(PaperFcnBench.callsPerRound(1e9, true, 1.0)).isEqualTo(10); // 100 ms a call
        assertThat(PaperFcnBench.callsPerRound(1e9, false, 1.0)).isEqualTo(3);
        assertThat(PaperFcnBench.callsPerRound(5e10, true, 1.0)).isEqualTo(1);
        assertThat(PaperFcnBench.callsPerRound(5e10, false, 1.0)).isEqualTo(1);
        assertThat(PaperFcnBench.callsPerRound(1e8, true, 0.0)).isEqualTo(1); // turned off
        String out = dir.toString();
        assertThat(PaperFcnBench.Options.parse("--min-point-seconds", "0", "--out", out).minPointSeconds).isZero();
        assertThatThrownBy(() -> PaperFcnBench.Options.parse("--min-point-seconds", "-1", "--out", out))
                .isInstanceOf(IllegalArgumentException.class).hasMessageContaining("--min-point-seconds");
    }
}
