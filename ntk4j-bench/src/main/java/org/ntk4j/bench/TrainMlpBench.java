package org.ntk4j.bench;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.OutputStreamWriter;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.Paths;
import java.time.LocalDate;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import org.ntk4j.cpu.Blas;
import org.ntk4j.cpu.Parallel;
import org.ntk4j.io.AtomicFile;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.Npy;
import org.ntk4j.io.NpyArray;
import org.ntk4j.io.NpyDType;
import org.ntk4j.io.Standardizer;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.predict.Loss;
import org.ntk4j.train.EpochMetrics;
import org.ntk4j.train.Examples;
import org.ntk4j.train.Listener;
import org.ntk4j.train.Optimizer;
import org.ntk4j.train.Schedule;
import org.ntk4j.train.TrainConfig;
import org.ntk4j.train.TrainResult;
import org.ntk4j.train.Trainer;
import org.ntk4j.io.OutputFiles;
import org.ntk4j.tensor.DType;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

/**
 * {@code ./ntk4j bench train-mlp}: training throughput (examples per second per epoch) of the MLP
 * {@code fcn(depth=2,width=512,out=10)} in ntk4j and in PyTorch (Debian's {@code python3-torch}, run by
 * {@code /usr/bin/python3} with {@code torch_train_mlp.py}), same architecture, data, batch size, optimizer (Adam,
 * lr 1e-3), loss (cross-entropy), float32 and thread count.
 *
 * <p>The epochs are interleaved: each round trains one ntk4j epoch (from the trainer's listener, which is called
 * between epochs, outside the trainer's timing), then one epoch of each PyTorch process, which wait between rounds
 * for a line on stdin, so that all of them see the same load on the machine. ntk4j's rate is
 * {@link EpochMetrics#examplesPerSecond()} (steps only: no test set, so no evaluation is timed or run); PyTorch's
 * is timed by the script over the same work (the shuffle's gather, forward, loss, backward, Adam step).
 *
 * <p>PyTorch runs twice: as installed (Debian's torch is built with {@code BLAS_INFO=generic} and calls the
 * system's {@code libblas.so.3}, which may be the reference BLAS), and with ntk4j's own OpenBLAS (bytedeco's
 * {@code libopenblas.so.0}) put under it by {@code LD_PRELOAD}. Each run reports the BLAS libraries its process
 * mapped. The summary is the median rate over the epochs after the first (the first alone when there is one).
 *
 * <p>The run's section is printed; it is written to a file only when asked, {@code --out FILE} appending it (the
 * record of such runs is {@code --out ntk4j-bench/TRAIN_RESULTS.md}). Decided: no default file, since a run that
 * appended to the committed record by default changed a file nobody named (the run's data, load and machine are
 * seldom the record's).
 */
final class TrainMlpBench {
    static final String SCRIPT = "torch_train_mlp.py";
    static final String SPEC = "fcn(depth=2,width=512,out=10)";
    static final double LR = 1e-3;
    static final String RESULTS = "TRAIN_RESULTS.md";

    private TrainMlpBench() {
    }

    /** The command's options: picocli's, checked (and the data loaded) before the run ({@link BenchCli}). */
    @Command(name = "ntk4j bench train-mlp", abbreviateSynopsis = true, sortOptions = false,
            description = {"Training throughput of " + SPEC + " (Adam lr 1e-3, cross-entropy, float32) in ntk4j and "
                + "PyTorch (/usr/bin/python3, python3-torch: as installed and on ntk4j's OpenBLAS), epochs "
                + "interleaved.",
                "Prints the run's section; with --out FILE also appends it to FILE (created with a title when "
                + "missing): the record is --out ntk4j-bench/" + RESULTS + ". Without --out no file is written.",
                ""})
    static final class Options implements BenchCli.Bench {
        @Option(names = "--epochs", paramLabel = "E", description = "epochs (default ${DEFAULT-VALUE}); the summary "
                + "is the median after the first")
        int epochs = 3;
        @Option(names = "--batch", paramLabel = "B", description = "mini-batch size (default ${DEFAULT-VALUE})")
        int batch = 128;
        @Option(names = "--threads", paramLabel = "T", description = "BLAS and ntk4j threads, torch.set_num_threads "
                + "(default: the cores)")
        int threads = Runtime.getRuntime().availableProcessors();
        @Option(names = "--n", paramLabel = "N", description = "training examples of the default source (default "
                + "${DEFAULT-VALUE})")
        int n = 10_000;
        @Option(names = "--data", paramLabel = "SOURCE", description = "a labelled data source (default "
                + "fashion-mnist:train:N, else default:train:2000)")
        String data;
        @Option(names = "--out", paramLabel = "FILE", description = "append the run's section to this Markdown file "
                + "(default: none, printed only)")
        Path out;
        @Mixin
        BenchCli.Help help = new BenchCli.Help();
        /** The training data, loaded by {@link #check} (the run closes it), and its spec. */
        Dataset raw;
        String source;
        /** Why the default source was replaced, for the log, or null. */
        String note;

        /**
         * Parses and checks the options, loading the data (for tests).
         *
         * @throws IllegalArgumentException with the line the bench prints
         */
        static Options parse(String... args) throws IOException {
            return BenchCli.parse(new Options(), args);
        }

        @Override
        public void check(CommandLine.ParseResult given) throws IOException {
            BenchCli.positive("--epochs", epochs);
            BenchCli.positive("--batch", batch);
            BenchCli.positive("--threads", threads);
            BenchCli.positive("--n", n);
            BenchCli.notWith(given, "--data", "--n sizes the default source, fashion-mnist:train:N", "--n");
            if (out != null) {
                // appended to, so an existing file is what it is for: no --overwrite
                OutputFiles.replacingExisting().output("--out", out, ".md").inputSource("--data", data).check();
            }
            source = data != null ? data : "fashion-mnist:train:" + n;
            // Parallel reads ntk4j.threads once, when first used: set before the data is loaded, which may use it
            System.setProperty("ntk4j.threads", String.valueOf(threads));
            try {
                raw = DataSource.loadDataset(source, DType.F32, 0);
            } catch (IllegalArgumentException | IOException e) {
                if (data != null) {
                    throw new IllegalArgumentException("--data: " + org.ntk4j.cli.Main.message(e), e);
                }
                note = source + " is not available (" + e.getMessage() + "); using the embedded default:train:2000";
                source = "default:train:2000";
                raw = DataSource.loadDataset(source, DType.F32, 0);
            }
            if (!raw.hasLabels()) {
                raw.close();
                throw new IllegalArgumentException("--data: the source '" + source + "' has no labels; training "
                        + "needs them");
            }
        }

        @Override
        public int run(String[] args) throws IOException {
            TrainMlpBench.run(this, args);
            return 0;
        }
    }

    /** One training program's per-epoch rates and how it ran. */
    static final class Run {
        final String label;
        final List<Double> rates = new ArrayList<>();
        String status = "ran";
        String blas = "";

        Run(String label) {
            this.label = label;
        }

        boolean ran() {
            return status.equals("ran") && !rates.isEmpty();
        }

        double summary() {
            return ran() ? medianAfterFirst(rates) : Double.NaN;
        }
    }

    /**
     * The median of the rates after the first epoch (which pays for warm-up), or the first when it is alone.
     *
     * @param rates per-epoch examples per second, in epoch order
     * @return the summary rate, NaN for none
     */
    static double medianAfterFirst(List<Double> rates) {
        if (rates.isEmpty()) {
            return Double.NaN;
        }
        List<Double> r = rates.size() == 1 ? rates : rates.subList(1, rates.size());
        double[] v = new double[r.size()];
        for (int i = 0; i < v.length; i++) {
            v[i] = r.get(i);
        }
        return Timing.median(v);
    }

    /**
     * ntk4j's rate over the best PyTorch rate that ran.
     *
     * @return the ratio (above 1: ntk4j is faster), NaN when no PyTorch run counts
     */
    static double ratio(Run ntk4j, List<Run> torch) {
        double best = Double.NaN;
        for (Run t : torch) {
            if (t.ran() && (Double.isNaN(best) || t.summary() > best)) {
                best = t.summary();
            }
        }
        return Double.isNaN(best) ? Double.NaN : ntk4j.summary() / best;
    }

    /**
     * The examples per second of the script's epoch line, or NaN when the line is not one.
     *
     * @param line a line of the script's output
     * @return the rate, NaN for other lines
     */
    static double epochRate(String line) {
        String t = line.trim();
        if (!t.startsWith("{") || !t.endsWith("}") || !t.contains("\"epoch\"")) {
            return Double.NaN;
        }
        double[] v = PeersBench.jsonNumbers(t, "examples_per_second");
        return v.length == 1 ? v[0] : Double.NaN;
    }

    /** The BLAS description of the script's "ready" line. */
    static String blasOf(String readyLine) {
        String libs = PeersBench.jsonString(readyLine, "blas_libs");
        String preload = PeersBench.jsonString(readyLine, "preload");
        return "torch " + PeersBench.jsonString(readyLine, "torch") + ", BLAS_INFO="
                + PeersBench.jsonString(readyLine, "blas_info") + ", mapped: " + libs
                + (preload.equals("none") ? "" : " (LD_PRELOAD " + preload + ")");
    }

    private static String rate(Run r) {
        return r.ran() ? String.format(Locale.ROOT, "%.0f", r.summary()) : r.status;
    }

    /** The Markdown table: one row per setting, the rates and the ratio ntk4j / best PyTorch. */
    static String table(String setting, Run ntk4j, Run installed, Run openblas) {
        double ratio = ratio(ntk4j, List.of(installed, openblas));
        return "| setting | ntk4j examples/s | PyTorch as installed | PyTorch on OpenBLAS 0.3.31 | "
                + "ntk4j / best PyTorch |\n|---|---:|---:|---:|---:|\n| " + setting + " | " + rate(ntk4j) + " | "
                + rate(installed) + " | " + rate(openblas) + " | "
                + (Double.isNaN(ratio) ? "n/a" : String.format(Locale.ROOT, "**%.2f×**", ratio)) + " |\n";
    }

    private static String perEpoch(Run r) {
        StringBuilder sb = new StringBuilder();
        for (double x : r.rates) {
            sb.append(sb.length() > 0 ? ", " : "").append(String.format(Locale.ROOT, "%.0f", x));
        }
        return sb.length() == 0 ? r.status : sb.toString();
    }

    /** A PyTorch process that trains one epoch per "epoch" line on its stdin. */
    private static final class TorchProcess implements AutoCloseable {
        final Run run;
        final Process process;
        final BufferedReader out;
        final Writer in;
        final StringBuilder transcript = new StringBuilder();

        TorchProcess(Run run, List<String> cmd, Map<String, String> env) throws IOException {
            this.run = run;
            ProcessBuilder pb = new ProcessBuilder(cmd).redirectErrorStream(true);
            PeersBench.peerEnvironment(pb);
            pb.environment().putAll(env);
            process = pb.start();
            out = new BufferedReader(new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8));
            in = new OutputStreamWriter(process.getOutputStream(), StandardCharsets.UTF_8);
            String ready = readJson("\"status\"");
            if (ready == null || !PeersBench.jsonString(ready, "status").equals("ready")) {
                fail("did not start");
            } else {
                run.blas = blasOf(ready);
            }
        }

        private String readJson(String key) throws IOException {
            String line;
            while ((line = out.readLine()) != null) {
                transcript.append(line).append('\n');
                String t = line.trim();
                if (t.startsWith("{") && t.endsWith("}") && t.contains(key)) {
                    return t;
                }
            }
            return null;
        }

        private void fail(String why) {
            String text = transcript.toString().trim();
            String last = text.isEmpty() ? "" : text.substring(text.lastIndexOf('\n') + 1);
            run.status = "failed: " + why + (last.isEmpty() ? "" : " (" + last + ")");
        }

        void epoch() throws IOException {
            if (!run.status.equals("ran")) {
                return;
            }
            try {
                in.write("epoch\n");
                in.flush();
            } catch (IOException e) {
                fail("exited");
                return;
            }
            String line = readJson("\"epoch\"");
            double r = line == null ? Double.NaN : epochRate(line);
            if (Double.isNaN(r)) {
                fail("no epoch line");
            } else {
                run.rates.add(r);
            }
        }

        @Override
        public void close() throws IOException {
            try {
                in.write("quit\n");
                in.flush();
            } catch (IOException e) {
                // already gone
            }
            try {
                if (!process.waitFor(60, TimeUnit.SECONDS)) {
                    process.destroyForcibly();
                }
            } catch (InterruptedException e) {
                process.destroyForcibly();
                Thread.currentThread().interrupt();
            }
        }
    }

    /** The directory of bytedeco's extracted {@code libopenblas.so.0}, the library ntk4j's BLAS calls run on. */
    static Path openblasDir() {
        String jni = org.bytedeco.javacpp.Loader.load(org.bytedeco.openblas.global.openblas.class);
        return jni == null ? null : Paths.get(jni).getParent();
    }

    static void main(String[] args) {
        System.exit(BenchCli.execute(new Options(), args));
    }

    private static void run(Options opt, String[] args) throws IOException {
        Blas.setThreads(opt.threads);
        BenchLog log = new BenchLog();
        if (opt.note != null) {
            log.say("note: %s", opt.note);
        }
        String spec = opt.source;
        Dataset raw = opt.raw;
        Path dir = Files.createTempDirectory("ntk4j-train-mlp");
        Model model = Zoo.parse(SPEC);
        Run ntk4j = new Run("ntk4j");
        Run installed = new Run("PyTorch as installed");
        Run openblas = new Run("PyTorch on OpenBLAS 0.3.31");
        String cpu = Machine.cpuModel();
        int n;
        try (Dataset d = raw; Dataset std = Standardizer.fit(d.x(), Standardizer.Mode.GLOBAL).apply(d)) {
            n = std.size();
            int[] labels = std.labels();
            long[] y = new long[labels.length];
            for (int i = 0; i < y.length; i++) {
                y[i] = labels[i];
            }
            Npy.write(dir.resolve("x.npy"), std.x());
            Npy.write(dir.resolve("y.npy"), NpyArray.ofLongs(NpyDType.INT64, y, y.length));
            Path script = dir.resolve(SCRIPT);
            try (InputStream s = TrainMlpBench.class.getResourceAsStream(SCRIPT)) {
                Files.copy(s, script);
            }
            List<String> cmd = List.of(PeersBench.PYTHON, script.toString(), "--x", dir.resolve("x.npy").toString(),
                    "--y", dir.resolve("y.npy").toString(), "--depth", "2", "--width", "512", "--out", "10",
                    "--batch", String.valueOf(opt.batch), "--lr", String.valueOf(LR), "--threads",
                    String.valueOf(opt.threads), "--interactive");
            Map<String, String> threadsEnv = Map.of("OMP_NUM_THREADS", String.valueOf(opt.threads),
                    "OPENBLAS_NUM_THREADS", String.valueOf(opt.threads));
            Path ob = openblasDir();
            Path lib = ob == null ? null : ob.resolve("libopenblas.so.0");
            log.say("train-mlp: %s on %s %s (standardised, global), batch %d, %d epochs, Adam lr %s, cross-entropy, "
                    + "float32; %d threads (OpenBLAS %d, ntk4j %d); %s", SPEC, spec,
                    java.util.Arrays.toString(std.x().shape()), opt.batch, opt.epochs, LR, opt.threads,
                    Blas.threads(), Parallel.threads(), cpu);
            try (TorchProcess a = new TorchProcess(installed, cmd, threadsEnv);
                 TorchProcess b = lib != null && Files.exists(lib) ? new TorchProcess(openblas, cmd,
                         Map.of("OMP_NUM_THREADS", String.valueOf(opt.threads), "OPENBLAS_NUM_THREADS",
                                 String.valueOf(opt.threads), "LD_LIBRARY_PATH", ob.toString(), "LD_PRELOAD",
                                 lib.toString())) : null) {
                if (b == null) {
                    openblas.status = "not run: no libopenblas.so.0 beside " + ob;
                }
                log.say("%s: %s", installed.label, installed.ran() || installed.status.equals("ran")
                        ? installed.blas : installed.status);
                log.say("%s: %s", openblas.label, openblas.status.equals("ran") ? openblas.blas : openblas.status);
                TrainConfig config = TrainConfig.builder().optimizer(Optimizer.adam(0.9, 0.999, 1e-8, 0))
                        .loss(Loss.CROSS_ENTROPY).learningRate(LR).schedule(Schedule.constant())
                        .batchSize(opt.batch).epochs(opt.epochs).seed(0).build();
                Listener listener = new Listener() {
                    @Override
                    public void epochDone(int epoch, Params params, EpochMetrics m) throws IOException {
                        if (epoch == 0) {
                            return;
                        }
                        ntk4j.rates.add(m.examplesPerSecond());
                        a.epoch();
                        if (b != null) {
                            b.epoch();
                        }
                        log.say("round %d: ntk4j %.0f examples/s (loss %.4f); %s %s; %s %s", epoch,
                                m.examplesPerSecond(), m.trainLoss(), installed.label, last(installed),
                                openblas.label, last(openblas));
                    }
                };
                Examples train = new Examples(std.x(), labels, 10);
                try (Params init = model.init(0, std.exampleShape(), DType.F32);
                     TrainResult r = Trainer.train(model, init, train, null, config, listener)) {
                    // only the rates are wanted
                }
            }
        } finally {
            PeersBench.deleteTreeQuietly(dir);
        }
        String setting = String.format(Locale.ROOT, "`%s`, %s (%d), batch %d, %d threads", SPEC, spec, n, opt.batch,
                opt.threads);
        String md = "### " + LocalDate.now() + ": `./ntk4j bench train-mlp" + (args.length > 0 ? " " : "")
                + String.join(" ", args) + "`\n\n" + "CPU: " + cpu + "; " + Machine.cores() + " cores; load average "
                + Machine.loadAverage() + "\n\n" + table(setting, ntk4j, installed, openblas) + "\n"
                + "Per epoch (examples/s): ntk4j " + perEpoch(ntk4j) + "; PyTorch as installed " + perEpoch(installed)
                + "; PyTorch on OpenBLAS " + perEpoch(openblas) + ". Rates are medians over the epochs after the "
                + "first.\n\n" + "- PyTorch as installed: " + (installed.blas.isEmpty() ? installed.status
                        : installed.blas) + "\n- PyTorch on OpenBLAS: " + (openblas.blas.isEmpty() ? openblas.status
                        : openblas.blas) + "\n";
        System.out.println();
        System.out.println(md);
        if (opt.out != null) {
            append(opt.out, md);
            System.out.println("appended to " + opt.out);
        }
    }

    /**
     * Appends a run's section to {@code file}, created with the record's title when missing: the whole file is
     * written anew ({@link AtomicFile}), so a failed write leaves the record as it was, not a half section.
     */
    static void append(Path file, String section) throws IOException {
        String before = Files.exists(file) ? Files.readString(file, StandardCharsets.UTF_8)
                : "# Training throughput: ntk4j against PyTorch\n\nWritten by `./ntk4j bench train-mlp --out FILE` "
                + "(org.ntk4j.bench.TrainMlpBench); each run is appended, newest last.\n\n";
        AtomicFile.writeString(file, before + section + "\n");
    }

    private static String last(Run r) {
        return r.ran() ? String.format(Locale.ROOT, "%.0f examples/s", r.rates.get(r.rates.size() - 1)) : r.status;
    }
}
