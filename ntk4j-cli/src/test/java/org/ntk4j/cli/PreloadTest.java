package org.ntk4j.cli;

import static org.assertj.core.api.Assertions.assertThat;

import org.junit.jupiter.api.Test;

/**
 * {@link Main#preloadNatives}: OpenBLAS is loaded on a background thread for the commands that compute, and not
 * for help, versions or the commands that do not use it.
 */
class PreloadTest {

    @Test
    void computingCommandsLoadOpenBlasInTheBackground() throws InterruptedException {
        for (String[] args : new String[][] {{"kernel", "--model", "fcn(depth=1)"}, {"--debug", "predict"},
            {"spectrum", "K.npy"}, {"train"}, {"approx"}, {"convergence"}, {"study"}}) {
            Thread t = Main.preloadNatives(args);
            assertThat(t).as(String.join(" ", args)).isNotNull();
            assertThat(t.isDaemon()).isTrue();
            t.join(60_000);
            assertThat(t.isAlive()).isFalse();
        }
        assertThat(org.ntk4j.cpu.Blas.threads()).isPositive();
    }

    @Test
    void helpVersionAndNonComputingCommandsLoadNothing() {
        for (String[] args : new String[][] {{}, {"models"}, {"explain", "--model", "fcn"}, {"kernel", "--help"},
            {"kernel", "-h"}, {"--version"}, {"predict", "-V"}, {"help", "kernel"}, {"--debug"}}) {
            assertThat(Main.preloadNatives(args)).as(String.join(" ", args)).isNull();
        }
    }
}
