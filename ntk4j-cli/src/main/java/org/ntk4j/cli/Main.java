package org.ntk4j.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code ntk4j} command. */
@Command(name = "ntk4j", mixinStandardHelpOptions = true,
        footer = {"", "Example:",
            "  ntk4j kernel --model 'fcn(depth=2,width=512,out=10)' --data default:train:500 --kind pntk --out K.npy",
            "", "Run 'ntk4j COMMAND --help' for a command's options."}, versionProvider = Main.Version.class,
        description = "Finite-width (empirical) neural tangent kernels on the JVM.",
        subcommands = {KernelCommand.class, ExplainCommand.class, ApproxCommand.class, PredictCommand.class,
            TrainCommand.class, SpectrumCommand.class, ModelsCommand.class, ConvergenceCommand.class,
            StudyCommand.class,
            CommandLine.HelpCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    private CommandLine.Model.CommandSpec spec;

    /** Set by {@code --debug} on any command (an inherited option): errors then print their stack trace. */
    private boolean debug;

    @CommandLine.Option(names = "--debug", scope = CommandLine.ScopeType.INHERIT,
            description = "On an error, also print the stack trace (same as -Dntk4j.debug=true; default: off).")
    void setDebug(boolean value) {
        debug = value;
    }

    /**
     * The {@code ntk4j} command: runs it and exits the JVM with its exit code.
     *
     * @param args the command line, e.g. {@code kernel --model fcn(depth=2) --out K.npy}
     */
    public static void main(String[] args) {
        preload = preloadNatives(args);
        System.exit(run(args));
    }

    /** The thread {@link #main} started to load OpenBLAS, until {@link #awaitPreload} has waited for it. */
    private static volatile Thread preload;

    /** The commands that compute with OpenBLAS, for which {@link #preloadNatives} loads it early. */
    private static final java.util.Set<String> COMPUTING = java.util.Set.of("kernel", "approx", "predict", "train",
            "spectrum", "convergence", "study");

    /**
     * Loads OpenBLAS ({@link org.ntk4j.cpu.Blas#load}: JavaCPP's loader, the library, its threads; about 0.1–0.2 s)
     * on a daemon thread while this thread builds the command line's model (picocli's reflection over every
     * command), when the command computes; {@link #run} waits for it before parsing. The calling thread must not
     * touch JavaCPP meanwhile: JavaCPP's loader holds its class lock while it initialises {@code Pointer}, and
     * {@code Pointer}'s initialisation takes that lock, so two threads entering JavaCPP at once by the two doors
     * deadlock (seen: the main thread in {@code Pointer.<clinit>} for the memory budget, the loading thread in
     * {@code Loader.loadLibrary}). A failure is left for the command's own first BLAS call to report.
     *
     * @return the loading thread, or null when the command does not compute (help, version, models, explain)
     */
    static Thread preloadNatives(String[] args) {
        String command = null;
        for (String a : args) {
            if (a.equals("--help") || a.equals("-h") || a.equals("--version") || a.equals("-V")) {
                return null;
            }
            if (command == null && !a.startsWith("-")) {
                command = a;
            }
        }
        if (command == null || !COMPUTING.contains(command)) {
            return null;
        }
        Thread t = new Thread(() -> {
            try {
                org.ntk4j.cpu.Blas.load();
            } catch (RuntimeException | LinkageError e) {
                // the command's first BLAS call loads again and reports what went wrong
            }
        }, "ntk4j-preload");
        t.setDaemon(true);
        t.start();
        return t;
    }

    /**
     * Runs the command line on standard output and error.
     *
     * @param args the command line
     * @return the exit code: 0 on success, 2 for usage errors and bad input, 3 when memory ran out (one line on
     *     stderr for both)
     */
    public static int run(String... args) {
        return run(new java.io.PrintWriter(System.out, true), new java.io.PrintWriter(System.err, true), args);
    }

    /**
     * {@link #run(String...)} writing to the given streams (how tests and embedding programs run a command
     * in-process).
     *
     * @param out where the command's output goes
     * @param err where progress, warnings and the one-line errors go
     * @param args the command line
     * @return the exit code: 0 on success, 2 for usage errors and bad input, 3 when memory ran out
     */
    public static int run(java.io.PrintWriter out, java.io.PrintWriter err, String... args) {
        return run(out, err, CommandLine.defaultFactory(), args);
    }

    /**
     * {@link #run(java.io.PrintWriter, java.io.PrintWriter, String...)} with the command objects made by
     * {@code factory}: how a test reaches the command object it runs (to set its hook after each part,
     * {@link PartialReport}).
     */
    static int run(java.io.PrintWriter out, java.io.PrintWriter err, CommandLine.IFactory factory, String... args) {
        Main main = new Main();
        CommandLine cmd = new CommandLine(main, factory);
        cmd.setOut(out);
        cmd.setErr(err);
        // every subcommand's --version prints what 'ntk4j --version' prints
        for (CommandLine sub : cmd.getSubcommands().values()) {
            if (sub.getCommandSpec().mixinStandardHelpOptions()) {
                sub.getCommandSpec().versionProvider(new Version());
            }
        }
        cmd.setParameterExceptionHandler((ex, arguments) -> {
            String problem = ArgumentErrors.message(ex);
            ex.getCommandLine().getErr().println("ntk4j: " + problem + (problem.endsWith("?") ? " " : "; ") + "see '"
                    + ex.getCommandLine().getCommandSpec().qualifiedName() + " --help'");
            if (main.debug || Boolean.getBoolean("ntk4j.debug")) {
                ex.printStackTrace(ex.getCommandLine().getErr());
            }
            return 2;
        });
        cmd.setExecutionStrategy(parseResult -> {
            ArgumentErrors.refuseRepeatedLists(parseResult);
            return new CommandLine.RunLast().execute(parseResult);
        });
        cmd.setExecutionExceptionHandler((ex, commandLine, parseResult) -> {
            if (ex instanceof IllegalArgumentException || ex instanceof java.io.IOException) {
                // the library's refusals of a budget advise tiles with --out, which only kernel computes
                commandLine.getErr().println("ntk4j: " + tileAdviceFor(commandLine.getCommand(), message(ex)));
                if (main.debug || Boolean.getBoolean("ntk4j.debug")) {
                    ex.printStackTrace(commandLine.getErr());
                }
                return 2;
            }
            throw ex;
        });
        // everything before this line is picocli's; from here on the command may enter JavaCPP (see preloadNatives)
        awaitPreload();
        synchronized (POOL_BOUND) {
            commandsRunning++;
        }
        try {
            return cmd.execute(args);
        } catch (OutOfMemoryError e) {
            // picocli passes Errors through: the memory the planner does not see (data larger than the JVM's
            // limit, a budget set above what the JVM holds) ends in one line too, not a stack trace
            err.println("ntk4j: " + outOfMemory(e));
            if (main.debug || Boolean.getBoolean("ntk4j.debug")) {
                e.printStackTrace(err);
            }
            err.flush();
            return 3;
        } finally {
            // the outputs this command was told not to replace are its own: a later command decides anew
            org.ntk4j.io.AtomicFile.forgetNewFiles();
            commandEnded();
        }
    }

    /** Guards {@link #commandsRunning} and {@link #boundBefore}. */
    private static final Object POOL_BOUND = new Object();
    /** Commands running in this JVM through {@link #run}. */
    private static int commandsRunning;
    /** The pool bound in force before a running command first set one; -1 while none has. */
    private static long boundBefore = -1;

    /**
     * Bounds the storage closed tensors keep for reuse, together with the live tensors, by a command's memory budget
     * ({@link org.ntk4j.tensor.Tensor#boundPooledStorage}): the budget is what the process may hold of tensors, not
     * only what the plan holds live (unbounded, the pool filled what the off-heap limit left beside the run:
     * docs/big-kernels.md, "What --memory bounds"). The bound is the process's, so it lasts while the command
     * runs: when the last command running in this JVM ends, the bound in force before is restored, so that a
     * program or a test that runs a command in-process ({@link #run(java.io.PrintWriter, java.io.PrintWriter,
     * String...)}) keeps its own pool afterwards. Commands running at once in one JVM share the bound last set.
     *
     * @param budget the command's budget in bytes
     * @return {@code budget}
     */
    static long boundPooledStorage(long budget) {
        synchronized (POOL_BOUND) {
            if (commandsRunning > 0 && boundBefore < 0) {
                boundBefore = org.ntk4j.tensor.Tensor.pooledStorageBound();
            }
            org.ntk4j.tensor.Tensor.boundPooledStorage(budget);
        }
        return budget;
    }

    /** Restores the pool bound in force before the commands running set theirs, when the last of them ends. */
    private static void commandEnded() {
        synchronized (POOL_BOUND) {
            if (--commandsRunning == 0 && boundBefore >= 0) {
                org.ntk4j.tensor.Tensor.boundPooledStorage(boundBefore);
                boundBefore = -1;
            }
        }
    }

    /**
     * The one-line message of an allocation that failed: JavaCPP's (the off-heap tensors; its cause says by how
     * much the limit was crossed) or the Java heap's, with the limits and what to change.
     */
    static String outOfMemory(OutOfMemoryError e) {
        String what = e.getMessage() == null ? "" : e.getMessage();
        if (e.getCause() != null && e.getCause().getMessage() != null) {
            what += " (" + e.getCause().getMessage() + ")";
        }
        return "out of memory: " + what + "; the JVM holds at most " + org.ntk4j.ntk.CostModel.human(
                org.ntk4j.tensor.NativeMemory.maxBytes()) + " of tensors and " + org.ntk4j.ntk.CostModel.human(
                Runtime.getRuntime().maxMemory()) + " of heap (raise both with NTK4J_JAVA_OPTS=-Xmx<size>, or "
                + "use fewer examples, a smaller model or a smaller --memory budget)";
    }

    /** Waits for {@link #preloadNatives}'s thread, if {@link #main} started one and nobody has waited yet. */
    static void awaitPreload() {
        Thread t = preload;
        if (t == null) {
            return;
        }
        preload = null;
        boolean interrupted = false;
        while (t.isAlive()) {
            try {
                t.join();
            } catch (InterruptedException e) {
                interrupted = true;
            }
        }
        if (interrupted) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * The one-line message of a user error. The JDK's file-system exceptions carry only the path as their
     * message ("x.npz"), so the problem is named for them. The benchmark commands (ntk4j-bench) use it too.
     *
     * @param ex the error
     * @return its one line, without "ntk4j: "
     */
    public static String message(Exception ex) {
        if (ex instanceof java.nio.file.FileSystemException) {
            java.nio.file.FileSystemException f = (java.nio.file.FileSystemException) ex;
            String what = ex instanceof java.nio.file.NoSuchFileException ? "file not found"
                    : ex instanceof java.nio.file.AccessDeniedException ? "permission denied"
                    : ex instanceof java.nio.file.NotDirectoryException ? "not a directory"
                    : ex instanceof java.nio.file.FileAlreadyExistsException ? "file already exists"
                    : f.getReason() != null ? f.getReason() : "file system error";
            return what + ": " + f.getFile() + (f.getOtherFile() != null ? " -> " + f.getOtherFile() : "");
        }
        return ex.getMessage() == null ? ex.toString() : ex.getMessage();
    }

    /**
     * {@code ntk4j} with no command: the list of commands on stderr and exit code 2, as for any incomplete command
     * line (a script whose command word came out empty does not succeed); {@code ntk4j --help} prints the same
     * list on stdout with exit code 0.
     */
    @Override
    public void run() {
        spec.commandLine().usage(spec.commandLine().getErr());
        throw new CommandLine.ParameterException(spec.commandLine(), "no command given");
    }

    /**
     * A text of the library (a refusal of the budget, {@code explain}'s cost table) as a command shows it: its advice
     * to compute the kernel in tiles with --out kept only where the command can ({@link TilesWithOut}), taken out
     * ({@link org.ntk4j.ntk.CostModel#withoutTileAdvice}) everywhere else.
     *
     * @param command the command running
     * @param text the library's text
     * @return the text to print
     */
    static String tileAdviceFor(Object command, String text) {
        return command instanceof TilesWithOut t && t.tilesWithOut() ? text
                : org.ntk4j.ntk.CostModel.withoutTileAdvice(text);
    }

    /**
     * A command that can compute its kernel in tiles written with {@code --out} ({@code kernel}): its refusals of a
     * memory budget keep the library's advice to do so, which every other command's lose
     * ({@link org.ntk4j.ntk.CostModel#withoutTileAdvice}).
     */
    interface TilesWithOut {
        /**
         * Whether this run's kernel could be computed in tiles with --out.
         *
         * @return true where the advice of tiles applies
         */
        boolean tilesWithOut();
    }

    /** Version from the jar manifest, or the development version. */
    static final class Version implements CommandLine.IVersionProvider {
        @Override
        public String[] getVersion() {
            String v = Main.class.getPackage().getImplementationVersion();
            return new String[] {"ntk4j " + (v == null ? "0.1.0-SNAPSHOT" : v),
                "OpenBLAS: " + org.ntk4j.cpu.Blas.config()};
        }
    }
}
