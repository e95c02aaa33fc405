package org.ntk4j.bench;

import java.util.Arrays;

/** Wall-clock timing of repeated calls, warm-up excluded, and the statistics the reports use. */
final class Timing {
    private Timing() {
    }

    /** Runs {@code call} {@code warmup} times untimed, then {@code reps} times timed; seconds per timed call. */
    static double[] repeat(int warmup, int reps, Runnable call) {
        for (int i = 0; i < warmup; i++) {
            call.run();
        }
        double[] t = new double[reps];
        for (int i = 0; i < reps; i++) {
            long t0 = System.nanoTime();
            call.run();
            t[i] = (System.nanoTime() - t0) / 1e9;
        }
        return t;
    }

    /**
     * Runs {@code call} untimed until {@code seconds} have passed since {@code startNanos} ({@link System#nanoTime}),
     * at least once: a warm-up by time, for calls whose code the JIT keeps compiling for seconds.
     *
     * @return the calls made
     */
    static int warmUntil(long startNanos, double seconds, Runnable call) {
        int calls = 0;
        do {
            call.run();
            calls++;
        } while (System.nanoTime() - startNanos < seconds * 1e9);
        return calls;
    }

    static double median(double[] values) {
        if (values.length == 0) {
            return Double.NaN;
        }
        double[] s = values.clone();
        Arrays.sort(s);
        int n = s.length;
        return n % 2 == 1 ? s[n / 2] : 0.5 * (s[n / 2 - 1] + s[n / 2]);
    }

    static double mean(double[] values) {
        return values.length == 0 ? Double.NaN : Arrays.stream(values).average().orElse(Double.NaN);
    }

    static double min(double[] values) {
        return Arrays.stream(values).min().orElse(Double.NaN);
    }

    static double max(double[] values) {
        return Arrays.stream(values).max().orElse(Double.NaN);
    }
}
