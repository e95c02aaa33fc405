package org.ntk4j.cli;

import org.ntk4j.io.OutputFiles;
import picocli.CommandLine.Option;

/** {@code --overwrite}, on every command that writes files; the outputs are checked by {@link OutputFiles}. */
final class OverwriteOption {
    @Option(names = "--overwrite", description = "Replace output files that exist (never an input of the command); "
            + "with kernel's tiled --out, also discard its unfinished run.")
    boolean overwrite;

    /** The command's outputs, to be checked before any work. */
    OutputFiles outputs() {
        return overwrite ? OutputFiles.replacingExisting() : OutputFiles.refusingExisting();
    }
}
