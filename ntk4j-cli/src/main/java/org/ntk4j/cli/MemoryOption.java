package org.ntk4j.cli;

import picocli.CommandLine.Option;

/**
 * {@code --memory} of the commands that compute kernels without kernel's tiles or analytic limit ({@code predict},
 * {@code spectrum}, {@code approx}, {@code study}, {@code convergence}): the same budget as kernel's
 * ({@link KernelOptions#memoryBudget(String)} parses it and gives its default), passed to every kernel the command
 * computes, AUTO's and an explicit --method's alike.
 */
final class MemoryOption {
    @Option(names = "--memory", description = "Memory budget of each kernel, AUTO's or --method's (refused before "
            + "any work when no method, or that method, fits it in any steps), e.g. 512m, 8g (default: 80%% of the "
            + "off-heap limit, which is -Xmx unless -Dorg.bytedeco.javacpp.maxBytes is set).")
    String memory;

    /**
     * The budget in bytes: --memory's, or the default; it also bounds the storage closed tensors keep for reuse
     * while the command runs ({@link Main#boundPooledStorage}).
     */
    long budget() {
        return Main.boundPooledStorage(KernelOptions.memoryBudget(memory));
    }
}
