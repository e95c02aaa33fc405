package org.ntk4j.io;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * The output files of one command, checked before it does any work: each must
 * <ol>
 *   <li>end in the extension of what is written to it ({@code .npy}, {@code .npz}, {@code .json}, {@code .png}),
 *       with a name short enough for the files written beside it ({@link #MAX_NAME_BYTES});</li>
 *   <li>differ from the command's other outputs;</li>
 *   <li>not be a directory, and have a writable parent directory that exists (an output inside a directory the
 *       command creates, {@code --plots DIR}, needs a writable existing ancestor; a symbolic link, which is
 *       followed, its target's directory);</li>
 *   <li>not be one of the command's input files (refused even with {@code --overwrite});</li>
 *   <li>not exist, unless the command was given {@code --overwrite}.</li>
 * </ol>
 * Without {@code --overwrite}, an output that passed is not replaced either by the command's write if a file
 * appeared there meanwhile (another program's): that write fails naming it ({@link AtomicFile}); a tiled kernel's
 * OUT likewise ({@link TileStore#finishAll}).
 * A failed check is an {@link IllegalArgumentException} whose message is the one line the command prints.
 */
public final class OutputFiles {
    /**
     * The longest output file name, in UTF-8 bytes: 255 (Linux file systems' NAME_MAX) less what the longest name
     * written beside an output adds, the {@link AtomicFile} temporary file of a tiled run's manifest
     * ({@code .NAME.manifest.tmp-} and 16 hex digits, 31 bytes). Checked before the work, so that a long run does
     * not end in "file name too long".
     */
    public static final int MAX_NAME_BYTES = 255 - 31;

    private final boolean overwrite;
    private final List<Named> inputs = new ArrayList<>();
    private final List<Output> outputs = new ArrayList<>();

    private record Named(String option, Path file) {
    }

    private record Output(String option, Path file, String extension, Path createdDirectory) {
    }

    private OutputFiles(boolean overwrite) {
        this.overwrite = overwrite;
    }

    /**
     * An empty set of outputs and inputs, to be filled and then {@link #check()}ed, where an output that exists is
     * refused (a command without {@code --overwrite}).
     *
     * @return the new checker
     */
    public static OutputFiles refusingExisting() {
        return new OutputFiles(false);
    }

    /**
     * An empty set of outputs and inputs, to be filled and then {@link #check()}ed, where an output may replace a
     * file that exists (a command given {@code --overwrite}); an input of the command is still refused.
     *
     * @return the new checker
     */
    public static OutputFiles replacingExisting() {
        return new OutputFiles(true);
    }

    /**
     * Adds an input file of the command, which no output may be.
     *
     * @param option the command-line option that gave it, for messages
     * @param file the input; null adds nothing
     * @return this, for chaining
     */
    public OutputFiles input(String option, Path file) {
        if (file != null) {
            inputs.add(new Named(option, file));
        }
        return this;
    }

    /**
     * Adds the files a data-source spec reads ({@link DataSource#files}) as inputs.
     *
     * @param option the command-line option that gave it, for messages
     * @param spec the data-source spec; null adds nothing
     * @return this, for chaining
     */
    public OutputFiles inputSource(String option, String spec) {
        if (spec != null) {
            for (Path p : DataSource.files(spec)) {
                inputs.add(new Named(option, p));
            }
        }
        return this;
    }

    /**
     * Adds an output file that must end in {@code extension}.
     *
     * @param option the command-line option that gave it, for messages
     * @param file the output; null adds nothing
     * @param extension the required extension, lower case with its dot (".npy")
     * @return this, for chaining
     */
    public OutputFiles output(String option, Path file, String extension) {
        if (file != null) {
            outputs.add(new Output(option, file, extension, null));
        }
        return this;
    }

    /**
     * Adds an output {@code name} in {@code directory}, which the command creates if missing.
     *
     * @param option the command-line option that gave the directory, for messages
     * @param directory the directory; null adds nothing
     * @param name the file name, whose extension (from its last dot, which it must have) is the required one
     * @return this, for chaining
     */
    public OutputFiles outputIn(String option, Path directory, String name) {
        if (directory != null) {
            String ext = name.substring(name.lastIndexOf('.'));
            outputs.add(new Output(option, directory.resolve(name), ext, directory));
        }
        return this;
    }

    /**
     * Runs the checks, in the order of the class comment, output by output.
     *
     * @throws IllegalArgumentException at the first failed check, with the line the command prints
     * @throws IOException if the file system cannot tell whether two paths are the same file
     */
    public void check() throws IOException {
        for (Output o : outputs) {
            String name = o.file.getFileName() == null ? "" : o.file.getFileName().toString();
            if (!name.toLowerCase(Locale.ROOT).endsWith(o.extension) || name.length() == o.extension.length()) {
                throw new IllegalArgumentException(o.option + " " + o.file + ": the output is a " + o.extension
                        + " file; give a name ending in " + o.extension);
            }
            int bytes = name.getBytes(java.nio.charset.StandardCharsets.UTF_8).length;
            if (bytes > MAX_NAME_BYTES) {
                throw new IllegalArgumentException(o.option + ": the file name " + name.substring(0, 24) + "…"
                        + o.extension + " is " + bytes + " bytes long; at most " + MAX_NAME_BYTES + " (the file "
                        + "system's 255 less the temporary file written beside it)");
            }
        }
        for (int i = 0; i < outputs.size(); i++) {
            for (int j = 0; j < i; j++) {
                if (same(outputs.get(i).file, outputs.get(j).file)) {
                    throw new IllegalArgumentException(outputs.get(j).option + " and " + outputs.get(i).option
                            + " are the same file, " + outputs.get(i).file + "; give each its own");
                }
            }
        }
        for (Output o : outputs) {
            if (o.createdDirectory != null) {
                checkDirectoryToCreate(o);
            } else {
                // a symbolic link is followed (AtomicFile): the directory written is its target's
                checkParent(o.option, o.file, AtomicFile.destination(o.file).toAbsolutePath().getParent());
            }
            if (Files.isDirectory(o.file)) {
                throw new IllegalArgumentException(o.option + " " + o.file + " is a directory; give a file name");
            }
            if (!Files.exists(o.file)) {
                continue;
            }
            for (Named in : inputs) {
                if (Files.exists(in.file) && Files.isSameFile(in.file, o.file)) {
                    throw new IllegalArgumentException(o.option + " " + o.file + " is the input given to " + in.option
                            + "; choose another file");
                }
            }
            if (!overwrite) {
                throw new IllegalArgumentException(o.option + " " + o.file + " exists; pass --overwrite to replace it");
            }
        }
        // checked: an output that does not exist now is not to be replaced by a file that appears there before the
        // command writes it, unless --overwrite (AtomicFile)
        for (Output o : outputs) {
            if (overwrite) {
                AtomicFile.mayReplace(o.file);
            } else if (!Files.exists(o.file)) {
                AtomicFile.expectNew(o.file);
            }
        }
    }

    private static boolean same(Path a, Path b) throws IOException {
        if (Files.exists(a) && Files.exists(b)) {
            return Files.isSameFile(a, b);
        }
        return a.toAbsolutePath().normalize().equals(b.toAbsolutePath().normalize());
    }

    private static void checkParent(String option, Path file, Path parent) {
        if (parent == null || !Files.exists(parent)) {
            throw new IllegalArgumentException(option + " " + file + ": directory " + parent + " does not exist");
        }
        if (!Files.isDirectory(parent)) {
            throw new IllegalArgumentException(option + " " + file + ": " + parent + " is not a directory");
        }
        if (!Files.isWritable(parent)) {
            throw new IllegalArgumentException(option + " " + file + ": directory " + parent + " is not writable");
        }
    }

    /** DIR/NAME where DIR may not exist yet: DIR, or its nearest existing ancestor, is a writable directory. */
    private static void checkDirectoryToCreate(Output o) {
        Path dir = o.createdDirectory.toAbsolutePath();
        for (Path part : dir) {
            if (part.toString().getBytes(java.nio.charset.StandardCharsets.UTF_8).length > 255) {
                throw new IllegalArgumentException(o.option + " " + part.toString().substring(0, 24) + "…: a "
                        + "directory name of more than 255 bytes (the file system's limit)");
            }
        }
        if (Files.exists(dir) && !Files.isDirectory(dir)) {
            throw new IllegalArgumentException(o.option + " " + o.createdDirectory + " is not a directory");
        }
        Path existing = dir;
        while (existing != null && !Files.exists(existing)) {
            existing = existing.getParent();
        }
        if (existing == null || !Files.isDirectory(existing)) {
            throw new IllegalArgumentException(o.option + " " + o.createdDirectory + ": cannot be created ("
                    + (existing == null ? "no existing parent" : existing + " is not a directory") + ")");
        }
        if (!Files.isWritable(existing)) {
            throw new IllegalArgumentException(o.option + " " + o.createdDirectory + ": directory " + existing
                    + " is not writable");
        }
    }
}
