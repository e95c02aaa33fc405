package org.ntk4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.stream.Stream;

/**
 * The training run of the launcher's archive: its ahead-of-time cache on JDK 25 and later ({@code
 * -XX:AOTCacheOutput}, JEP 483, 514 and 515), its class-data sharing archive's class list before. A cache records
 * the classes a run loaded and linked and the profiles of the methods it ran, and a later start that maps it
 * begins with those classes linked and compiles the profiled methods early; so the run that trains it should do
 * what commands do, at sizes where the hot loops get hot (a CDS archive keeps only the classes: those of every
 * command here, not only the kernel's). This one runs, in one JVM and
 * discarding their output, a few kernels of the kinds, methods and dtypes people ask for (structured derivatives
 * on FCNs and a CNN, full and traced, the pNTK, Jacobian contraction and NTK-vector products, float32 and
 * float64), the default command on the embedded data, a prediction and a spectrum — about 3 s on two cores.
 * It deliberately leaves out the settings the benchmarks and the documentation time (the FCN example at
 * W = 512 and 2048), so that what they report is what any command gains.
 */
public final class AotTraining {
    private AotTraining() {
    }

    /** The command lines the training runs, in order; {@code OUT} stands for a fresh file in a scratch folder. */
    static final List<String[]> COMMANDS = List.of(
            new String[] {"kernel", "--model", "fcn(depth=3,width=384,out=8)", "--data", "synthetic:16,2048", "--kind",
                "full", "--method", "sd", "--dtype", "f32", "--report", "OUT"},
            new String[] {"kernel", "--model", "fcn(depth=3,width=384,out=8)", "--data", "synthetic:16,2048", "--kind",
                "full", "--method", "sd", "--dtype", "f32", "--report", "OUT"},
            new String[] {"kernel", "--model", "fcn(depth=2,width=256,out=10)", "--data", "synthetic:96,784", "--kind",
                "trace", "--method", "sd", "--dtype", "f64", "--report", "OUT"},
            new String[] {"kernel", "--model", "cnn(depth=2,channels=16,out=10)", "--data", "synthetic:8,16,16,3",
                "--kind", "full", "--method", "auto", "--dtype", "f32", "--report", "OUT"},
            new String[] {"kernel", "--model", "fcn(depth=2,width=128,out=4)", "--data", "synthetic:8,256", "--kind",
                "full", "--method", "jc", "--dtype", "f32", "--report", "OUT"},
            new String[] {"kernel", "--model", "fcn(depth=2,width=128,out=4)", "--data", "synthetic:8,256", "--kind",
                "full", "--method", "vp", "--dtype", "f32", "--report", "OUT"},
            new String[] {"kernel", "--model", "fcn(depth=2,width=256,out=10)", "--data", "synthetic:64,784", "--kind",
                "pntk", "--report", "OUT"},
            new String[] {"kernel", "--report", "OUT"},
            new String[] {"predict", "--train", "default:train:200", "--test", "default:test:50"},
            new String[] {"spectrum", "--model", "fcn(depth=2,width=128)", "--data", "default:train:100"});

    /**
     * Runs the training commands once each, in a scratch folder removed afterwards, and exits.
     *
     * @param args ignored
     * @throws IOException if the scratch folder cannot be made or removed
     * @throws IllegalStateException if a command fails (the launcher then keeps no cache)
     */
    public static void main(String[] args) throws IOException {
        Path scratch = Files.createTempDirectory("ntk4j-aot-training");
        try {
            train(scratch);
        } finally {
            try (Stream<Path> files = Files.walk(scratch)) {
                for (Path p : files.sorted(Comparator.reverseOrder()).toList()) {
                    Files.deleteIfExists(p);
                }
            }
        }
        System.exit(0);
    }

    /**
     * Runs {@link #COMMANDS} in this JVM, their output discarded and their files written in {@code scratch}.
     *
     * @param scratch an existing folder for the commands' files
     * @return the files the commands wrote
     * @throws IllegalStateException naming the first command that exits with a non-zero code
     */
    static List<Path> train(Path scratch) {
        List<Path> written = new ArrayList<>();
        try (PrintWriter discard = new PrintWriter(Writer.nullWriter())) {
            for (String[] command : COMMANDS) {
                List<String> line = new ArrayList<>();
                for (String a : command) {
                    if (a.equals("OUT")) {
                        Path out = scratch.resolve("out" + written.size() + ".json");
                        written.add(out);
                        line.add(out.toString());
                    } else {
                        line.add(a);
                    }
                }
                int code = Main.run(discard, discard, line.toArray(new String[0]));
                if (code != 0) {
                    throw new IllegalStateException("AOT training: '" + String.join(" ", line) + "' exited " + code);
                }
            }
        }
        return written;
    }
}
