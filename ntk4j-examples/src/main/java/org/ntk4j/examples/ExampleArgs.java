package org.ntk4j.examples;

import java.io.IOException;
import java.io.PrintStream;
import java.io.UncheckedIOException;
import java.nio.file.FileSystemException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * The command line of an example: optional positional arguments with defaults and, where the example writes
 * files, {@code --overwrite}. Everything comes from its usage line, e.g. {@code "TiledKernelToFile [N] [OUT.npy]
 * [--overwrite]"}: the example's name, the names of its arguments (in error messages) and whether it takes
 * {@code --overwrite}. A bad argument, or any other {@link IllegalArgumentException} or I/O error the example meets,
 * ends in one line on stderr and exit code 2, not a stack trace.
 */
final class ExampleArgs {
    private static final Pattern OPTIONAL = Pattern.compile("\\[([^\\]]+)]");

    /** An example's body. */
    @FunctionalInterface
    interface Body {
        /**
         * Runs the example.
         *
         * @param args its parsed command line
         * @throws Exception whatever the example throws
         */
        void run(ExampleArgs args) throws Exception;
    }

    private final List<String> names = new ArrayList<>();
    private final List<String> values = new ArrayList<>();
    private final boolean overwrite;

    private ExampleArgs(String usage, String[] args) {
        boolean takesOverwrite = false;
        Matcher m = OPTIONAL.matcher(usage);
        while (m.find()) {
            if (m.group(1).equals("--overwrite")) {
                takesOverwrite = true;
            } else {
                names.add(m.group(1));
            }
        }
        boolean ow = false;
        for (String a : args) {
            if (a.equals("--overwrite") && takesOverwrite) {
                ow = true;
            } else if (a.startsWith("--")) {
                throw new IllegalArgumentException("unknown option '" + a + "'");
            } else {
                values.add(a);
            }
        }
        if (values.size() > names.size()) {
            throw new IllegalArgumentException("expected at most " + names.size() + " argument"
                    + (names.size() == 1 ? "" : "s") + ", got " + values.size() + " " + values);
        }
        overwrite = ow;
    }

    /**
     * Runs an example's body on its command line and exits the JVM with code 2 when it fails on bad input
     * (see {@link #run(String, String[], Body, PrintStream)}); returns normally when it succeeds.
     *
     * @param usage the usage line: the example's name, then its optional arguments in brackets
     * @param args the command line
     * @param body the example
     * @throws Exception what the body throws besides bad input and I/O errors (a bug: its stack trace helps)
     */
    static void main(String usage, String[] args, Body body) throws Exception {
        int code = run(usage, args, body, System.err);
        if (code != 0) {
            System.exit(code);
        }
    }

    /**
     * Runs an example's body on its command line: an {@link IllegalArgumentException} (a bad argument, or input the
     * library refused) prints {@code NAME: message (usage: ntk4j-examples/run USAGE)}, an I/O error
     * {@code NAME: message}, each as one line on {@code err}. {@code --help} or {@code -h} prints the usage line on
     * stdout instead of running the example.
     *
     * @param usage the usage line: the example's name, then its optional arguments in brackets
     * @param args the command line
     * @param body the example
     * @param err where the one-line error goes
     * @return 0 on success (or help), 2 on bad input or an I/O error
     * @throws Exception what the body throws besides those
     */
    static int run(String usage, String[] args, Body body, PrintStream err) throws Exception {
        String name = usage.split(" ", 2)[0];
        if (Arrays.asList(args).contains("--help") || Arrays.asList(args).contains("-h")) {
            System.out.println("usage: ntk4j-examples/run " + usage);
            return 0;
        }
        try {
            body.run(new ExampleArgs(usage, args));
            return 0;
        } catch (IllegalArgumentException e) {
            err.println(name + ": " + e.getMessage() + " (usage: ntk4j-examples/run " + usage + ")");
        } catch (IOException e) {
            err.println(name + ": " + message(e));
        } catch (UncheckedIOException e) {
            err.println(name + ": " + message(e.getCause()));
        }
        return 2;
    }

    /** The JDK's file-system exceptions carry only the path as their message: their kind is named too. */
    private static String message(IOException e) {
        return e instanceof FileSystemException ? e.getClass().getSimpleName() + ": " + e.getMessage()
                : e.getMessage();
    }

    /**
     * Positional argument {@code i} as a positive int.
     *
     * @param i the argument's position
     * @param dflt its value when not given
     * @return the value
     * @throws IllegalArgumentException naming the argument, if it is not an int of at least 1
     */
    int positive(int i, int dflt) {
        if (i >= values.size()) {
            return dflt;
        }
        String v = values.get(i);
        try {
            int n = Integer.parseInt(v.trim());
            if (n >= 1) {
                return n;
            }
        } catch (NumberFormatException e) {
            // refused below, with the argument's name
        }
        throw new IllegalArgumentException(names.get(i) + " must be a positive integer, got '" + v + "'");
    }

    /**
     * Positional argument {@code i} as text.
     *
     * @param i the argument's position
     * @param dflt its value when not given
     * @return the value
     * @throws IllegalArgumentException naming the argument, if it is empty
     */
    String text(int i, String dflt) {
        if (i >= values.size()) {
            return dflt;
        }
        if (values.get(i).isBlank()) {
            throw new IllegalArgumentException(names.get(i) + " is empty");
        }
        return values.get(i);
    }

    /**
     * Whether positional argument {@code i} was given.
     *
     * @param i the argument's position
     * @return true if the command line has it
     */
    boolean given(int i) {
        return i < values.size();
    }

    /**
     * Refuses to replace a file that exists, unless {@code --overwrite} was given: no example replaces a file it
     * was not asked to.
     *
     * @param file a file the example is about to write
     * @return {@code file}
     * @throws IllegalArgumentException if {@code file} is a directory, or exists and {@code --overwrite} was not
     *     given
     */
    Path newFile(Path file) {
        if (Files.isDirectory(file)) {
            throw new IllegalArgumentException(file + " is a directory, not a file");
        }
        if (Files.exists(file) && !overwrite) {
            throw new IllegalArgumentException(file + " exists; pass --overwrite to replace it");
        }
        return file;
    }
}
