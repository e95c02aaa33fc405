package org.ntk4j.bench;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import org.ntk4j.cpu.Blas;
import org.ntk4j.graph.FlopCount;
import org.ntk4j.ntk.CostModel;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.Method;
import org.ntk4j.tensor.Tensor;

/**
 * ntk4j's methods timed side by side on one kernel: warm-up rounds, then timed rounds, each round running every
 * method once (round-robin), so that load from other processes falls on all of them alike. Each call is timed
 * (wall clock), its peak of off-heap tensor bytes measured ({@link Tensor#peakBytes}), and the wall time with a
 * GEMM running counted ({@link Blas#countTime}); the kernel of the last call is kept for agreement checks.
 */
final class MethodRuns {
    private MethodRuns() {
    }

    /** One method's measurements in one setting. */
    static final class Result {
        final Method method;
        final List<Double> seconds = new ArrayList<>();
        final List<Double> blasSeconds = new ArrayList<>();
        long measuredPeak;
        long leaked;
        /** FLOPs counted by the library ({@link FlopCount}) in the last timed call, or -1 before one. */
        long counted = -1;
        CostModel.Estimate estimate;
        Tensor kernel;
        double relErrVsJc = Double.NaN;
        String skipped;

        Result(Method method) {
            this.method = method;
        }

        double[] times() {
            return seconds.stream().mapToDouble(Double::doubleValue).toArray();
        }

        double median() {
            return Timing.median(times());
        }

        double mean() {
            return Timing.mean(times());
        }

        double min() {
            return Timing.min(times());
        }

        double max() {
            return Timing.max(times());
        }

        double gflops() {
            return estimate.flops() / median() / 1e9;
        }

        /** Share of the timed wall time with no GEMM running (summed over the timed rounds). */
        double outsideBlas() {
            double wall = seconds.stream().mapToDouble(Double::doubleValue).sum();
            double blas = blasSeconds.stream().mapToDouble(Double::doubleValue).sum();
            return wall > 0 ? 1 - blas / wall : Double.NaN;
        }

        boolean ran() {
            return skipped == null && !seconds.isEmpty();
        }

        void closeKernel() {
            if (kernel != null) {
                kernel.close();
                kernel = null;
            }
        }
    }

    /**
     * Warms each method of {@code running} up by time: untimed calls of {@code base.method(m).ntk(x, null)} until
     * {@code seconds} have passed since its first (at least one call), so that the rounds after it time compiled
     * code (a small kernel's call kept getting faster for about 2 s of calls). A method that throws is marked
     * skipped with the error.
     */
    static void warmUpFor(EmpiricalNtk base, Tensor x, List<Method> running, Map<Method, Result> results,
                          double seconds, BenchLog log) {
        for (Method m : running) {
            Result r = results.get(m);
            if (r.skipped != null || seconds <= 0) {
                continue;
            }
            EmpiricalNtk ntk = base.method(m);
            try {
                int calls = Timing.warmUntil(System.nanoTime(), seconds, () -> ntk.ntk(x, null).close());
                log.say("  %-3s warm-up by time: %d calls in %.1f s", m.shortName(), calls, seconds);
            } catch (RuntimeException | OutOfMemoryError e) {
                r.skipped = "failed: " + e;
                log.say("  %-3s FAILED: %s", m.shortName(), e);
            }
        }
    }

    /**
     * Runs {@code warmup} untimed and {@code reps} timed rounds of {@code base.method(m).ntk(x, null)} over the
     * methods in {@code running}, recording into {@code results}. {@code heldBytes} are the tensors live
     * throughout (parameters and x): the measured peak counts them, as the cost model does, and anything else
     * live at the start is not the method's. A method that throws is marked skipped with the error.
     */
    static void roundRobin(EmpiricalNtk base, Tensor x, List<Method> running, Map<Method, Result> results,
                           int warmup, int reps, long heldBytes, BenchLog log) {
        for (int round = 0; round < warmup + reps; round++) {
            boolean timed = round >= warmup;
            for (Method m : running) {
                Result r = results.get(m);
                if (r.skipped != null) {
                    continue;
                }
                EmpiricalNtk ntk = base.method(m);
                long live = Tensor.liveBytes();
                Tensor.resetPeakBytes();
                Blas.countTime(true);
                long f0 = FlopCount.total();
                long t0 = System.nanoTime();
                Tensor k;
                try {
                    k = ntk.ntk(x, null);
                } catch (RuntimeException | OutOfMemoryError e) {
                    Blas.countTime(false);
                    r.skipped = "failed: " + e;
                    log.say("  %-3s FAILED: %s", m.shortName(), e);
                    continue;
                }
                double sec = (System.nanoTime() - t0) / 1e9;
                long counted = FlopCount.total() - f0;
                double blas = Blas.countedNanos() / 1e9;
                Blas.countTime(false);
                long peak = Tensor.peakBytes();
                long other = live - heldBytes;
                long measured = peak - Math.max(0, other);
                long leaked = Tensor.liveBytes() - live - k.bytes();
                r.closeKernel();
                r.kernel = k;
                log.say("  %-3s %s %8.3f s  peak %10s (predicted %10s), %4.1f%% of the time in GEMMs, %.5g FLOPs "
                        + "counted (%s)%s", m.shortName(), timed ? "round " + (round - warmup + 1) : "warm-up", sec,
                        CostModel.human(measured), CostModel.human(r.estimate.peakBytes()), 100 * blas / sec,
                        (double) counted, counted == Math.round(r.estimate.flops()) ? "= predicted"
                        : String.format(java.util.Locale.ROOT, "predicted %.5g", r.estimate.flops()),
                        leaked != 0 ? "  [" + leaked + " bytes still live after the call]" : "");
                if (timed) {
                    r.seconds.add(sec);
                    r.blasSeconds.add(blas);
                    r.measuredPeak = Math.max(r.measuredPeak, measured);
                    r.leaked = leaked;
                    r.counted = counted;
                }
            }
        }
    }

    /**
     * Relative Frobenius errors of every kernel against JC's (or the first method's that ran), stored in the
     * results; false when one exceeds {@link KernelAgreement#TOLERANCE}.
     */
    static boolean verify(Map<Method, Result> results, Method[] order, BenchLog log) {
        Result ref = null;
        for (Method m : order) {
            Result r = results.get(m);
            if (r != null && r.kernel != null) {
                ref = r;
                break;
            }
        }
        if (ref == null) {
            return true;
        }
        boolean ok = true;
        for (Method m : order) {
            Result r = results.get(m);
            if (r == null || r.kernel == null || r == ref) {
                continue;
            }
            r.relErrVsJc = KernelAgreement.relativeError(r.kernel, ref.kernel);
            boolean pass = KernelAgreement.agrees(r.relErrVsJc);
            ok &= pass;
            log.say("  %s vs %s: relative Frobenius error %.2e %s", m.shortName(), ref.method.shortName(),
                    r.relErrVsJc, pass ? "(ok)" : "(DISAGREE: above " + KernelAgreement.TOLERANCE + ")");
        }
        if (ref.method == Method.JACOBIAN_CONTRACTION) {
            ref.relErrVsJc = 0;
        }
        return ok;
    }
}
