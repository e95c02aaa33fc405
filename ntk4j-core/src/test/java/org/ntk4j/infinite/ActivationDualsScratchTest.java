package org.ntk4j.infinite;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.within;

import java.lang.management.ManagementFactory;
import org.junit.jupiter.api.Test;
import org.ntk4j.nn.Activation;

/**
 * The allocation-free path of {@link ActivationDuals} (a worker's {@link ActivationDuals.Scratch}, reused from one
 * expectation to the next): the same numbers as the path that made fresh rules and arrays per expectation, whatever
 * the order of the calls, and no allocation once warm.
 */
class ActivationDualsScratchTest {
    private static final Activation.Kind[] NUMERICAL = {
        Activation.Kind.TANH, Activation.Kind.SIGMOID, Activation.Kind.SOFTPLUS};

    /**
     * (k11, k22, k12): correlations ±1 and within 1e-7 of them, zero variances, and variances up to 1e10 (rules of
     * δ &lt; 1, which a scratch computes into its own arrays).
     */
    private static final double[][] GRID = {
        {1, 1, 1}, {1, 1, -1}, {1, 2, 0}, {0, 0, 0}, {0, 3, 0}, {2.5, 0, 0},
        {0.7, 1.9, 0.9999999 * Math.sqrt(0.7 * 1.9)}, {0.7, 1.9, -0.9999999 * Math.sqrt(0.7 * 1.9)},
        {3, 3, 0.9999999 * 3}, {40, 0.2, 0.5 * Math.sqrt(8)}, {1e4, 1e4, 0.3e4}, {1e10, 2, 0.999 * Math.sqrt(2e10)},
    };

    /**
     * {E[φ(u)²], E[φ(v)²], E[φ(u)φ(v)], E[φ'(u)φ'(v)]} at {@link #GRID} for tanh, sigmoid and softplus (in that
     * order), printed to 17 digits by the path before the scratch (fresh rules and arrays per expectation), 2026-12-07.
     */
    private static final double[][] BEFORE_SCRATCH = {
        // tanh
        {0.39429449039784120, 0.39429449039784120, 0.39429449039784120, 0.46440290244826840},
        {0.39429449039784120, 0.39429449039784120, -0.39429449039784120, 0.46440290244826840},
        {0.39429449039784120, 0.51997574566394880, -1.5597444027177642e-17, 0.29075333559401445},
        {0.0000000000000000, 0.0000000000000000, 0.0000000000000000, 1.0000000000000000},
        {0.0000000000000000, 0.58943908447812990, 0.0000000000000000, 0.41056091552187024},
        {0.55882143029063850, 0.0000000000000000, 0.0000000000000000, 0.44117856970936187},
        {0.33051879945171720, 0.51087002852895170, 0.40781077527214377, 0.42162363945919523},
        {0.33051879945171720, 0.51087002852895170, -0.40781077527214366, 0.42162363945919530},
        {0.58943908447812990, 0.58943908447812990, 0.58943899687300100, 0.29201706589521280},
        {0.87511324039842860, 0.14718181750997025, 0.15228236558053710, 0.11011202032175893},
        {0.99202148248051350, 0.99202148248051350, 0.19395690346234580, 6.6729854490563850e-05},
        {0.99999202115439180, 0.51997574566394880, 0.65489867645830880, 7.9471984018199150e-06},
        // sigmoid
        {0.29337903585809305, 0.29337903585809305, 0.29337903585809305, 0.044836241350194380},
        {0.29337903585809305, 0.29337903585809305, 0.20662096414190710, 0.044836241350194380},
        {0.29337903585809305, 0.31841907698418476, 0.25000000000000000, 0.037518425383305160},
        {0.25000000000000006, 0.25000000000000006, 0.25000000000000000, 0.062500000000000000},
        {0.25000000000000006, 0.33565974297432943, 0.25000000000000000, 0.041085064256417660},
        {0.32772929367958775, 0.25000000000000006, 0.25000000000000000, 0.043067676580103100},
        {0.28321784956513900, 0.31635237584941456, 0.29675804914091060, 0.042110936774367900},
        {0.28321784956513900, 0.31635237584941456, 0.20324195085908970, 0.042110936774367900},
        {0.33565974297432943, 0.33565974297432943, 0.33565973328569565, 0.032295445747605886},
        {0.43931656923032963, 0.26140052528583035, 0.27054639503589734, 0.014628583125468879},
        {0.49601123320316440, 0.49601123320316440, 0.29847688295020990, 1.6677942628706454e-05},
        {0.49999601057719667, 0.31841907698418476, 0.36246575019830835, 9.9636083074878930e-07},
        // softplus
        {0.92124590885930050, 0.92124590885930050, 0.92124590885930040, 0.29337903585809305},
        {0.92124590885930050, 0.92124590885930050, 0.42124590885930036, 0.20662096414190710},
        {0.92124590885930050, 1.3819284185836953, 0.72759892017564700, 0.25000000000000000},
        {0.48045301391820130, 0.48045301391820130, 0.48045301391820155, 0.25000000000000000},
        {0.48045301391820130, 1.8527485933484602, 0.68546142184441150, 0.25000000000000000},
        {1.6163825329949812, 0.48045301391820130, 0.65631356662363430, 0.25000000000000000},
        {0.78614851168106800, 1.3353115987391342, 1.0069108955481176, 0.29675804914091060},
        {0.78614851168106800, 1.3353115987391342, 0.43028282347739080, 0.20324195085908970},
        {1.8527485933484602, 1.8527485933484602, 1.8527484926505393, 0.33565973328569565},
        {20.143151358903843, 0.56603162904392830, 2.2510156740969367, 0.27054639503589734},
        {5000.0095886226280, 5000.0095886226280, 2414.2208938969584, 0.29847688295020990},
        {5000000000.0000110, 1.3819284185836953, 78881.636469227260, 0.36246575019830835},
    };

    /** The scratch path gives the numbers of the path before it (the same arithmetic: equal up to exp's ulps). */
    @Test
    void numericalExpectationsAreThoseOfThePathBeforeTheScratch() {
        ActivationDuals.Scratch scratch = new ActivationDuals.Scratch();
        double[] four = new double[4];
        double[] cross = new double[2];
        for (int a = 0; a < NUMERICAL.length; a++) {
            Activation act = new Activation(NUMERICAL[a]);
            for (int g = 0; g < GRID.length; g++) {
                double[] s = GRID[g];
                double[] want = BEFORE_SCRATCH[a * GRID.length + g];
                ActivationDuals.of(act, s[0], s[1], s[2], four, scratch);
                ActivationDuals.cross(act, s[0], s[1], s[2], cross, scratch);
                for (int e = 0; e < 4; e++) {
                    assertThat(four[e]).as("%s at %s, expectation %d", act.function(), java.util.Arrays.toString(s), e)
                            .isCloseTo(want[e], within(1e-15 * Math.max(1, Math.abs(want[e]))));
                }
                assertThat(cross).containsExactly(four[2], four[3]);
            }
        }
    }

    /**
     * One scratch through every activation and covariance, forwards and backwards (each rule reused, recomputed for
     * another δ, or its node values left from a larger rule), gives bit for bit what a fresh scratch gives.
     */
    @Test
    void aReusedScratchGivesWhatAFreshOneGives() {
        ActivationDuals.Scratch reused = new ActivationDuals.Scratch();
        double[] got = new double[4];
        double[] want = new double[4];
        for (int pass = 0; pass < 2; pass++) {
            for (Activation.Kind kind : Activation.Kind.values()) {
                Activation act = new Activation(kind);
                for (int i = 0; i < GRID.length; i++) {
                    double[] s = GRID[pass == 0 ? i : GRID.length - 1 - i];
                    ActivationDuals.of(act, s[0], s[1], s[2], got, reused);
                    ActivationDuals.of(act, s[0], s[1], s[2], want, new ActivationDuals.Scratch());
                    assertThat(got).as("%s at %s", kind, java.util.Arrays.toString(s)).containsExactly(want);
                }
            }
        }
    }

    /**
     * Once warm, a scratch's expectations allocate nothing (the path before allocated about 1.5 KB per expectation:
     * two rules, their node arrays and the small result arrays), over every activation and rules of many δ; and so
     * does a whole map through {@link PixelPairs#activate}. The thread's allocation counter is exact, and the
     * code measured allocates nothing at all, so the slack only covers the counter's own reading.
     */
    @Test
    void theHotPathAllocatesNothingOnceWarm() {
        com.sun.management.ThreadMXBean threads =
                (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
        assertThat(threads.isThreadAllocatedMemorySupported()).isTrue();
        threads.setThreadAllocatedMemoryEnabled(true);
        ActivationDuals.Scratch scratch = new ActivationDuals.Scratch();
        double[] four = new double[4];
        PixelPairs.Geometry g = new PixelPairs.Geometry(3, 3, 1, 3);
        double[] selfA = {0.5, 1, 2, 4, 9, 30, 1e3, 1e6, 1e9};
        double[] selfB = {1, 1.5, 0.2, 3, 7, 0, 12, 2, 60};
        double[] k = new double[g.pixels * g.pixels];
        double[] t = new double[k.length];
        Activation[] acts = java.util.Arrays.stream(Activation.Kind.values()).map(Activation::new)
                .toArray(Activation[]::new);
        double sink = 0;
        for (int round = 0; round < 3; round++) { // two to warm up (classes, rules' arrays grown), one measured
            long before = threads.getCurrentThreadAllocatedBytes();
            for (Activation act : acts) {
                for (double[] s : GRID) {
                    ActivationDuals.of(act, s[0], s[1], s[2], four, scratch);
                    sink += Math.atan(four[3]); // finite also where exp's expectations overflow to ∞
                }
                for (int p = 0; p < g.pixels; p++) {
                    for (int q = 0; q < g.pixels; q++) {
                        k[p * g.pixels + q] = 0.3 * Math.sqrt(selfA[p] * selfB[q]);
                        t[p * g.pixels + q] = 1;
                    }
                }
                PixelPairs.activate(act, g, selfA, selfB, true, k, t, scratch);
                sink += Math.atan(k[1] + t[1]);
            }
            long allocated = threads.getCurrentThreadAllocatedBytes() - before;
            if (round == 2) {
                assertThat(allocated).as("bytes allocated by %d expectations", acts.length
                        * (GRID.length + k.length)).isLessThan(1024);
            }
        }
        assertThat(sink).isFinite();
    }
}
