package org.ntk4j.cli;

import java.io.IOException;
import java.io.PrintWriter;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.DoubleBuffer;
import java.nio.FloatBuffer;
import java.nio.IntBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.TreeSet;
import java.util.concurrent.Callable;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.CRC32;
import me.tongfei.progressbar.ConsoleProgressBarConsumer;
import me.tongfei.progressbar.ProgressBar;
import me.tongfei.progressbar.ProgressBarBuilder;
import me.tongfei.progressbar.ProgressBarStyle;
import org.ntk4j.cpu.Blas;
import org.ntk4j.io.Checkpoints;
import org.ntk4j.io.DataSource;
import org.ntk4j.io.Dataset;
import org.ntk4j.io.InputLayout;
import org.ntk4j.io.OutputFiles;
import org.ntk4j.io.ParamsFile;
import org.ntk4j.io.Standardizer;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.plot.Charts;
import org.ntk4j.predict.Loss;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Shapes;
import org.ntk4j.tensor.Tensor;
import org.ntk4j.train.EpochMetrics;
import org.ntk4j.train.Listener;
import org.ntk4j.train.Optimizer;
import org.ntk4j.train.Schedule;
import org.ntk4j.train.TrainConfig;
import org.ntk4j.train.TrainResult;
import org.ntk4j.train.TrainState;
import org.ntk4j.train.Trainer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.Spec;

/** {@code ntk4j train}: mini-batch SGD or Adam, with checkpoints, resumption, curves. */
@Command(name = "train", mixinStandardHelpOptions = true,
        footer = {"", "Example:", "  ntk4j train --model 'fcn(depth=2,width=512)' --train fashion-mnist:train:10000 "
            + "--test fashion-mnist:test:2000 --epochs 5 --optimizer adam --lr 1e-3 --log log.json --plot curves.png"},
        description = {"Trains a network by mini-batch SGD (momentum, weight decay) or Adam on the cross-entropy "
            + "or MSE loss of one-hot labels; evaluates on --test after every epoch; checkpoints parameter files "
            + "that --params-in of kernel, predict and train and study --checkpoints read; --resume continues bit "
            + "for bit."})
public final class TrainCommand implements Callable<Integer> {
    @Spec
    private CommandSpec spec;

    @Option(names = "--model", description = "Model spec (see 'ntk4j models'; default: ${DEFAULT-VALUE}).")
    String model = "fcn(depth=2,width=512)";

    @Option(names = "--train", description = "Labelled training data (default: ${DEFAULT-VALUE}); "
            + DataSource.FORMS + ".")
    String train = DataSource.DEFAULT_TRAIN;

    @Option(names = "--test", description = "Labelled test data evaluated after every epoch (default: "
            + "${DEFAULT-VALUE}; none for no evaluation).")
    String test = DataSource.DEFAULT_TEST;

    @Option(names = "--epochs", description = "Passes over the training data (default: ${DEFAULT-VALUE}).")
    int epochs = 5;

    @Option(names = "--batch", description = "Mini-batch size (default: ${DEFAULT-VALUE}).")
    int batch = 128;

    @Option(names = "--optimizer", description = "sgd or adam (default: ${DEFAULT-VALUE}).")
    String optimizer = "adam";

    @Option(names = "--lr", description = "Base learning rate (default: ${DEFAULT-VALUE}).")
    double lr = 1e-3;

    @Option(names = "--momentum", description = "SGD momentum μ in [0, 1) (default: ${DEFAULT-VALUE}).")
    double momentum = 0.9;

    @Option(names = "--weight-decay", description = "L2 weight decay λ, added to the gradient as λθ "
            + "(default: ${DEFAULT-VALUE}).")
    double weightDecay;

    @Option(names = "--beta1", description = "Adam β1 (default: ${DEFAULT-VALUE}).")
    double beta1 = 0.9;

    @Option(names = "--beta2", description = "Adam β2 (default: ${DEFAULT-VALUE}).")
    double beta2 = 0.999;

    @Option(names = "--eps", description = "Adam ε (default: ${DEFAULT-VALUE}).")
    double eps = 1e-8;

    @Option(names = "--schedule", description = "constant, step:EVERY:FACTOR (×FACTOR every EVERY epochs) or "
            + "cosine ((1 + cos(πt/T))/2 at step t of T, reaching 0 after the last step) (default: "
            + "${DEFAULT-VALUE}).")
    String schedule = "constant";

    @Option(names = "--loss", description = "cross-entropy or mse (half the squared error), means over the "
            + "N × classes entries (default: ${DEFAULT-VALUE}).")
    String loss = "cross-entropy";

    @Option(names = "--seed", description = "Seed of the initial parameters and of the shuffling "
            + "(default: ${DEFAULT-VALUE}).")
    long seed;

    @Option(names = "--dtype", description = "f32 or f64 (default: ${DEFAULT-VALUE}).")
    String dtype = "f32";

    @Option(names = "--standardize", description = "global, per-feature or none, fitted on --train as in predict "
            + "(default: ${DEFAULT-VALUE}).")
    String standardize = "global";

    @Option(names = "--batch-norm", description = "frozen: the batch norms normalise by their running statistics "
            + "and keep them (PyTorch's eval()); train: by each batch's statistics, updating the running ones with "
            + "momentum 0.1 and the unbiased variance (PyTorch's train()), which evaluation and checkpoints use "
            + "(default: ${DEFAULT-VALUE}).")
    String batchNorm = "frozen";

    @Option(names = "--params-in", description = "Initial parameters (.npz) instead of the seeded initialisation.")
    Path paramsIn;

    @Option(names = "--params-out", description = "Write the final parameters (F.npz) and, beside them, their "
            + "state and the run's record (F.state.npz, as a checkpoint's), by which kernel's and predict's "
            + "--params-in and study's --checkpoints know the model and input statistics they were trained with.")
    Path paramsOut;

    @Option(names = "--checkpoint-dir", description = "Directory of the checkpoints: epoch-EEEE.npz (parameters, "
            + "for --params-in) and epoch-EEEE.state.npz (optimizer state), step-SSSSSS.* for step checkpoints.")
    Path checkpointDir;

    @Option(names = "--checkpoint-every-epoch", description = "A checkpoint after every epoch, 1 to --epochs "
            + "(for epoch 0 too, list them with --checkpoint-epochs).")
    boolean everyEpoch;

    @Option(names = "--checkpoint-epochs", split = ",", description = "Checkpoints after these epochs, e.g. 0,1,2,5; "
            + "0 is the initial parameters, before the first step (the epoch 0 that study needs).")
    List<Integer> checkpointEpochs;

    @Option(names = "--checkpoint-every-steps", description = "A checkpoint every this many steps (at most the "
            + "run's steps, epochs × ⌈examples / batch⌉).")
    long everySteps;

    @Option(names = "--resume", description = "Continue from the latest checkpoint in --checkpoint-dir, with the "
            + "same options (--epochs may be larger unless the schedule is cosine); the result is that of the "
            + "uninterrupted run, bit for bit. Other settings, --model, --dtype, --standardize or training data are "
            + "refused.")
    boolean resume;

    @Option(names = "--log", description = "Write the curves as JSON (one entry per epoch).")
    Path log;

    @Option(names = "--plot", description = "Write the curves as a PNG.")
    Path plot;

    @Option(names = "--threads", description = "BLAS threads (default: OpenBLAS's).")
    Integer threads;

    @Option(names = "--quiet", description = "No progress on stderr.")
    boolean quiet;

    @picocli.CommandLine.Mixin
    OverwriteOption overwrite = new OverwriteOption();

    /** The parameter file of the checkpoint --resume continues from (Checkpoints.paramsFile); null without. */
    private Path resumeParams;

    @Override
    public Integer call() throws Exception {
        ModelArgument.requireZoo(model, "train initialises and trains a zoo model from its spec");
        DType dt = KernelOptions.parsed("--dtype", dtype, DType::parse);
        Standardizer.Mode mode = KernelOptions.parsed("--standardize", standardize, Standardizer.Mode::parse);
        Model net = Zoo.parse(model);
        TrainConfig config = config();
        if (threads != null) {
            if (threads < 1) {
                throw new IllegalArgumentException("--threads: expected a positive number, got " + threads);
            }
            Blas.setThreads(threads);
        }
        boolean noTest = test.trim().equalsIgnoreCase("none");
        if (spec.commandLine().getParseResult().hasMatchedOption("--checkpoint-every-steps") && everySteps < 1) {
            throw new IllegalArgumentException("--checkpoint-every-steps: expected at least 1, got " + everySteps);
        }
        boolean checkpoints = everyEpoch || checkpointEpochs != null || everySteps > 0;
        if ((resume || checkpoints) && checkpointDir == null) {
            // named by the option given ("checkpoints: need --checkpoint-dir" named none before 2026-12-07)
            String given = resume ? "--resume" : everyEpoch ? "--checkpoint-every-epoch"
                    : checkpointEpochs != null ? "--checkpoint-epochs" : "--checkpoint-every-steps";
            throw new IllegalArgumentException(given + ": needs --checkpoint-dir, the directory of the checkpoints");
        }
        if (checkpointDir != null && !resume && !checkpoints) {
            throw new IllegalArgumentException("--checkpoint-dir: no checkpoint to write; add "
                    + "--checkpoint-every-epoch, --checkpoint-epochs or --checkpoint-every-steps");
        }
        String resumeFrom = null;
        if (resume) {
            PrintWriter notes = spec.commandLine().getErr();
            try {
                resumeFrom = Checkpoints.latest(checkpointDir, note -> {
                    notes.println("ntk4j: --resume: " + note);
                    notes.flush();
                });
            } catch (IllegalArgumentException | org.ntk4j.io.NpyFormatException e) {
                throw new IllegalArgumentException("--resume: " + e.getMessage(), e);
            }
        }
        if (resume && resumeFrom == null) {
            throw new IllegalArgumentException("--resume: no checkpoint (*.state.npz with its .npz) in "
                    + checkpointDir);
        }
        // its parameter file, F.NPZ as well as F.npz (train --params-out F.NPZ writes F.NPZ and F.state.npz)
        resumeParams = resumeFrom == null ? null : Checkpoints.paramsFile(checkpointDir, resumeFrom);
        // what the checkpoint's run recorded of its inputs; empty for checkpoints written before they were recorded,
        // whose resumes skip these checks
        Map<String, String> recorded = resumeFrom == null ? Map.of() : Checkpoints.run(checkpointDir, resumeFrom);
        String modeName = mode.optionName();
        // the spec as written, blanks aside: one with the parameters' shapes but another activation (or any other
        // network) would continue the run as a network it never was
        String modelSpec = net.spec().replaceAll("\\s+", "");
        KernelOptions.requireParamsFile(paramsIn); // also with --resume, which checks the file and does not read it
        // the documented recipe is the same command with --resume: a run that started from --params-in is resumed
        // with it, which is checked against the file the run started from (its bytes' digest) and then not read,
        // the checkpoint having the parameters
        String paramsInDigest = paramsIn != null && (checkpointDir != null || paramsOut != null)
                && Files.isRegularFile(paramsIn) ? fileDigest(paramsIn) : null;
        if (resumeFrom != null && paramsIn != null && Files.isRegularFile(paramsIn)) {
            String was = recorded.get("params_in");
            if (was == null) {
                throw new IllegalArgumentException("--resume and --params-in " + paramsIn + ": the checkpoint's run "
                        + "did not start from a --params-in file (or was written before 2026-12-07, when that was "
                        + "first recorded); resume without --params-in");
            }
            if (!was.equals(paramsInDigest)) {
                throw new IllegalArgumentException("--resume: the checkpoint's run started from another --params-in "
                        + "file than " + paramsIn + " (its bytes differ); give the file it started from, or none");
            }
        }
        requireSame(recorded, "model", modelSpec);
        requireSame(recorded, "dtype", dt.shortName());
        requireSame(recorded, "standardize", modeName);
        if (plot != null && epochs < 1) {
            throw new IllegalArgumentException("--plot: the curves need at least one epoch (--epochs 1)");
        }
        // --params-out F.npz is written with its state file F.state.npz beside it (Checkpoints.save, as every
        // checkpoint), both outputs under the same --overwrite rules; a name of a state file is refused, as a
        // checkpoint directory would read it as one
        if (paramsOut != null && paramsOut.getFileName() != null && paramsOut.getFileName().toString()
                .toLowerCase(Locale.ROOT).endsWith(Checkpoints.STATE_SUFFIX)) {
            throw new IllegalArgumentException("--params-out " + paramsOut + ": a name ending in "
                    + Checkpoints.STATE_SUFFIX + " is that of the state file written beside the parameters; give "
                    + "the parameters' name, e.g. final.npz");
        }
        Path paramsOutState = paramsOut == null ? null : Checkpoints.stateFile(paramsOut);
        OutputFiles outs = overwrite.outputs().inputSource("--train", train)
                .inputSource("--test", noTest ? null : test).input("--params-in", paramsIn)
                .output("--params-out", paramsOut, ".npz").output("--params-out", paramsOutState, ".npz")
                .output("--log", log, ".json").output("--plot", plot, ".png");
        if (checkpointDir != null && !resume) {
            for (String name : checkpointNames(config)) {
                outs.outputIn("--checkpoint-dir", checkpointDir, name + ".npz")
                        .outputIn("--checkpoint-dir", checkpointDir, name + Checkpoints.STATE_SUFFIX);
            }
        }
        outs.check();
        PrintWriter o = spec.commandLine().getOut();
        PrintWriter err = spec.commandLine().getErr();
        try (Dataset trainRaw = KernelOptions.named("--train", () -> DataSource.loadDataset(train, dt, seed));
             Dataset testRaw = noTest ? null : KernelOptions.named("--test",
                     () -> DataSource.loadDataset(test, dt, seed + 1))) {
            if (testRaw != null) {
                KernelOptions.requireExampleSize("--test", testRaw.exampleShape(), "the training examples",
                        trainRaw.exampleShape());
            }
            Map<String, String> run = new LinkedHashMap<>();
            if (everySteps > 0) {
                requireAStepCheckpoint(trainRaw.size());
            }
            if (checkpointDir != null && !resume && everySteps > 0) {
                refuseOverwritingStepCheckpoints(trainRaw.size());
            }
            if (checkpointDir != null) { // once the refusals that need the data's size are behind: none leaves it
                Files.createDirectories(checkpointDir);
            }
            // the record of the run's inputs, in every checkpoint and beside --params-out
            if (checkpointDir != null || paramsOut != null) {
                run.put("model", modelSpec);
                run.put("dtype", dt.shortName());
                run.put("standardize", modeName);
                run.put("train", fingerprint(trainRaw));
                String startedFrom = recorded.containsKey("params_in") ? recorded.get("params_in") : paramsInDigest;
                if (startedFrom != null) {
                    run.put("params_in", startedFrom);
                }
                String was = recorded.get("train");
                if (was != null && !was.equals(run.get("train"))) {
                    throw new IllegalArgumentException("--resume: the checkpoint's run trained on other data (" + was
                            + ") than --train " + train + " (" + run.get("train") + ")");
                }
            }
            // a --params-in of another train run: in its --standardize, the statistics it recorded (as kernel and
            // predict take them), so that the network goes on seeing inputs of the scale it was trained at; a warning
            // of another --model or --standardize. A resume goes on with the statistics its checkpoint recorded, the
            // ones the run's first steps took, whether or not --params-in is given again (a resume may leave it
            // out): it fitted --train's own before (review, 2026-12-07), so a run started from another run's
            // parameters went on at another input scale from the resumed epoch on, silently
            Path statistics = resumeFrom != null ? resumeParams : paramsIn;
            Standardizer std = TrainedInputs.standardizer(resumeFrom != null ? "--resume" : "--params-in", statistics,
                    model, KernelOptions.fitStandardizer(trainRaw.x(), mode, "--train " + train, err),
                    "--train " + train, err);
            if (!run.isEmpty() && mode != Standardizer.Mode.NONE) {
                // the statistics themselves, exact (Double.toString round-trips): predict --params-in standardises
                // by them (TrainedInputs), so that the network sees inputs of the scale it was trained at
                run.put(TrainedInputs.MEAN, TrainedInputs.numbers(std.mean()));
                run.put(TrainedInputs.STD, TrainedInputs.numbers(std.std()));
            }
            try (Dataset trainStd = std.apply(trainRaw); Dataset testStd = noTest ? null : std.apply(testRaw);
                 Dataset tr = KernelOptions.named("--train", () -> InputLayout.forModel(net, trainStd));
                 Dataset te = noTest ? null
                         : testStd.withX(KernelOptions.laidOutLike("--test", testStd.x(), tr.exampleShape(),
                                 "the training examples"))) {
                int[] perExample = tr.exampleShape();
                int[] outShape = net.outputShape(perExample);
                if (outShape.length != 1) {
                    throw new IllegalArgumentException("--model: train needs outputs [N, classes], " + net.spec()
                            + " gives [N] + " + Shapes.str(outShape));
                }
                boolean batchNorms = !net.bufferSpecs(perExample).isEmpty();
                if (config.batchNormTraining() && !batchNorms) {
                    throw new IllegalArgumentException("--batch-norm train: " + net.spec() + " has no batch norm "
                            + "with running statistics to train");
                }
                if (batchNorms && !resume && !spec.commandLine().getParseResult().hasMatchedOption("--batch-norm")) {
                    // the default is the frozen batch norm of the runs before --batch-norm was offered (their
                    // checkpoints resume as they were); said once, since PyTorch's modules train in train() mode
                    err.println("ntk4j: train: the batch norms of " + net.spec() + " train frozen (--batch-norm "
                            + "frozen: normalised by their running statistics, which stay as they are, as in PyTorch's "
                            + "eval()); --batch-norm train trains them as PyTorch's train() does");
                }
                String needs = "train with " + outShape[0] + " model outputs";
                KernelOptions.requireLabelsBelow("--train", tr, outShape[0], needs);
                if (te != null) {
                    KernelOptions.requireLabelsBelow("--test", te, outShape[0], needs);
                }
                org.ntk4j.train.Examples trainEx = new org.ntk4j.train.Examples(tr.x(), tr.labels(), outShape[0]);
                org.ntk4j.train.Examples testEx = te == null ? null
                        : new org.ntk4j.train.Examples(te.x(), te.labels(), outShape[0]);
                // the checkpoint or --params-in read before the first line, so that a missing or corrupt file's
                // refusal is all the run prints
                String from = resumeFrom;
                try (TrainState s = from == null ? null : KernelOptions.named("--resume",
                        () -> Checkpoints.load(checkpointDir, from, net, perExample, dt));
                     Params p = from != null ? null : paramsIn != null ? KernelOptions.named("--params-in",
                             () -> ParamsFile.load(paramsIn, net, perExample, dt)) : net.init(seed, perExample, dt);
                     Progress progress = new Progress(o, err, quiet, System.console() != null, te != null, run)) {
                    printHeader(o, net, tr, te, config, dt, from, s, p);
                    TrainResult result = s != null ? Trainer.resume(net, s, trainEx, testEx, config, progress)
                            : Trainer.train(KernelCommand.withBuffersOf(net, p), p, trainEx, testEx, config, progress);
                    try (TrainResult r = result) {
                        writeOutputs(o, net, config, r);
                    }
                }
            }
        }
        o.flush();
        return 0;
    }

    /**
     * Prints the run's first lines: the model, data and settings, then where it resumes from (and whether anything is
     * left to train) or how many parameters it starts with.
     */
    private void printHeader(PrintWriter o, Model net, Dataset tr, Dataset te, TrainConfig config, DType dt,
                             String resumeFrom, TrainState resumed, Params initial) {
        o.printf(Locale.ROOT, "model %s; train %s %s, test %s; %s; %s%n", net.spec(), tr.name(),
                Shapes.str(tr.x().shape()), te == null ? "none" : te.name() + " " + Shapes.str(te.x().shape()),
                config.describe(), dt.shortName());
        if (resumed != null) {
            o.printf(Locale.ROOT, "resuming from %s (epoch %d, step %d)%n",
                    resumeParams, resumed.epoch(), resumed.step());
            if (resumed.epoch() == epochs && resumed.stepInEpoch() == 0) {
                // the run is complete: said so, rather than nothing between this line and the outputs
                o.printf(Locale.ROOT, "the checkpoint is at the end of epoch %d, the last of --epochs %d: nothing is "
                        + "left to train (a larger --epochs trains on)%n", epochs, epochs);
            }
        } else {
            o.printf(Locale.ROOT, "%d parameters%n", initial.count());
        }
        o.flush();
    }

    private TrainConfig config() {
        Optimizer opt;
        String kind = optimizer.trim().toLowerCase(Locale.ROOT);
        for (String option : kind.equals("sgd") ? List.of("--beta1", "--beta2", "--eps")
                : kind.equals("adam") ? List.of("--momentum") : List.<String>of()) {
            if (spec.commandLine().getParseResult().hasMatchedOption(option)) {
                throw new IllegalArgumentException(option + ": only for --optimizer "
                        + (kind.equals("sgd") ? "adam" : "sgd"));
            }
        }
        switch (kind) {
            case "sgd":
                opt = Optimizer.sgd(momentum, weightDecay);
                break;
            case "adam":
                opt = Optimizer.adam(beta1, beta2, eps, weightDecay);
                break;
            default:
                throw new IllegalArgumentException("--optimizer: expected sgd or adam, got '" + optimizer + "'");
        }
        if (everyEpoch && checkpointEpochs != null) {
            throw new IllegalArgumentException("--checkpoint-every-epoch and --checkpoint-epochs: give one");
        }
        TreeSet<Integer> ce = new TreeSet<>();
        // --checkpoint-every-epoch stays after each epoch trained, 1..--epochs: epoch 0 trains nothing, and adding
        // it would put one more checkpoint (the parameters and, with Adam, two buffers of zeros) into the directory
        // of every existing recipe. Epoch 0, the initial parameters that study measures the kernel's movement from,
        // is asked for by name: --checkpoint-epochs 0,1,2 (docs/training.md).
        if (everyEpoch) {
            if (epochs == 0 && !resume) {
                // epochs 1..0 is no checkpoint at all: refused, as a --checkpoint-dir without a schedule is
                throw new IllegalArgumentException("--checkpoint-every-epoch: --epochs 0 trains no epoch, so no "
                        + "checkpoint would be written; for the initial parameters give --checkpoint-epochs 0");
            }
            for (int e = 1; e <= epochs; e++) {
                ce.add(e);
            }
        } else if (checkpointEpochs != null) {
            for (int e : checkpointEpochs) {
                if (e < 0 || e > epochs) {
                    throw new IllegalArgumentException("--checkpoint-epochs: " + e + " is not an epoch of the run (0.."
                            + epochs + ")");
                }
                ce.add(e);
            }
        }
        return TrainConfig.builder().optimizer(opt).loss(Loss.parse(loss)).learningRate(lr)
                .schedule(Schedule.parse(schedule)).batchSize(batch).epochs(epochs).seed(seed).checkpointEpochs(ce)
                .checkpointEverySteps(everySteps).batchNormTraining(batchNormTraining()).build();
    }

    /** --batch-norm: true for train, false for frozen. */
    private boolean batchNormTraining() {
        switch (batchNorm.trim().toLowerCase(Locale.ROOT)) {
            case "train":
                return true;
            case "frozen":
                return false;
            default:
                throw new IllegalArgumentException("--batch-norm: expected frozen or train, got '" + batchNorm + "'");
        }
    }

    /** SHA-256 of a file's bytes, in hex: which --params-in file a run started from. */
    private static String fileDigest(Path file) throws IOException {
        java.security.MessageDigest sha;
        try {
            sha = java.security.MessageDigest.getInstance("SHA-256");
        } catch (java.security.NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
        try (java.io.InputStream in = Files.newInputStream(file)) {
            byte[] chunk = new byte[1 << 16];
            for (int n = in.read(chunk); n >= 0; n = in.read(chunk)) {
                sha.update(chunk, 0, n);
            }
        }
        return java.util.HexFormat.of().formatHex(sha.digest());
    }

    /** Refuses a resume whose --OPTION differs from the one the checkpoint's run recorded (not recorded: no check). */
    private static void requireSame(Map<String, String> recorded, String option, String value) {
        String was = recorded.get(option);
        if (was != null && !was.equals(value)) {
            throw new IllegalArgumentException("--resume: the checkpoint was taken with --" + option + " " + was
                    + "; this run has --" + option + " " + value);
        }
    }

    /**
     * The training data as loaded (before standardisation): the examples' shape and a CRC-32 of their bytes in the
     * run's dtype (little-endian) then of the labels (int32, little-endian). Recorded in every checkpoint, so that
     * a resume on other data is refused; one pass over the data, little next to an epoch.
     */
    private static String fingerprint(Dataset d) {
        CRC32 crc = new CRC32();
        ByteBuffer chunk = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);
        Tensor x = d.x();
        int n = x.size();
        boolean f32 = x.dtype() == DType.F32;
        FloatBuffer floats = f32 ? x.floats() : null;
        DoubleBuffer doubles = f32 ? null : x.doubles();
        int per = chunk.capacity() / x.dtype().bytes();
        for (int i = 0; i < n; i += per) {
            int len = Math.min(per, n - i);
            if (f32) {
                chunk.asFloatBuffer().put(0, floats, i, len);
            } else {
                chunk.asDoubleBuffer().put(0, doubles, i, len);
            }
            crc.update(chunk.array(), 0, len * x.dtype().bytes());
        }
        int[] labels = d.hasLabels() ? d.labels() : new int[0];
        IntBuffer dst = chunk.asIntBuffer();
        for (int i = 0; i < labels.length; i += dst.capacity()) {
            int len = Math.min(dst.capacity(), labels.length - i);
            dst.put(0, labels, i, len);
            crc.update(chunk.array(), 0, len * Integer.BYTES);
        }
        return String.format(Locale.ROOT, "examples %s, crc32 %08x", Shapes.str(x.shape()), crc.getValue());
    }

    /** The stems of the checkpoints the run may write; the step ones need the data size, so all epochs' are listed. */
    private List<String> checkpointNames(TrainConfig c) {
        List<String> names = new ArrayList<>();
        for (int e : c.checkpointEpochs()) {
            names.add(Trainer.epochCheckpointName(e));
        }
        if (everySteps > 0) {
            for (int e = 1; e <= epochs; e++) {
                String n = Trainer.epochCheckpointName(e);
                if (!names.contains(n)) {
                    names.add(n);
                }
            }
        }
        return names;
    }

    /**
     * Refuses --checkpoint-every-steps K above the run's total steps (epochs × ⌈examples / batch⌉), known once the
     * data's size is: such a run writes no step checkpoint, and a run relied on for its checkpoints should not learn
     * that after it ends (a refusal, not a warning: the option would do nothing). K equal to the total writes one,
     * at the end, as the last epoch's.
     */
    private void requireAStepCheckpoint(int examples) {
        long perEpoch = (examples + (long) batch - 1) / batch;
        long total = perEpoch * epochs;
        if (everySteps > total) {
            throw new IllegalArgumentException(String.format(Locale.ROOT, "--checkpoint-every-steps %d: the run has "
                    + "%d steps (%d epochs of %d: %d examples in batches of %d), so no step checkpoint would be "
                    + "written; %s", everySteps, total, epochs, perEpoch, examples, batch,
                    total == 0 ? "--epochs 0 takes none" : "give at most " + total));
        }
    }

    /**
     * The step checkpoints ({@code step-SSSSSS}, a step that ends no epoch) this run would write over, refused
     * without --overwrite as the epoch ones are before any work; known once the data's size is. Only the files in
     * the directory are looked at, not every step of the run.
     */
    private void refuseOverwritingStepCheckpoints(int examples) throws IOException {
        if (!Files.isDirectory(checkpointDir)) {
            return;
        }
        long perEpoch = (examples + (long) batch - 1) / batch;
        long total = perEpoch * epochs;
        Pattern name = Pattern.compile("step-(\\d+)(\\.npz|" + Pattern.quote(Checkpoints.STATE_SUFFIX) + ")");
        OutputFiles existing = overwrite.outputs();
        try (Stream<Path> files = Files.list(checkpointDir)) {
            for (Path f : (Iterable<Path>) files.sorted()::iterator) {
                Matcher m = name.matcher(f.getFileName().toString());
                if (m.matches() && m.group(1).length() < 19) {
                    long step = Long.parseLong(m.group(1));
                    if (step > 0 && step <= total && step % everySteps == 0 && step % perEpoch != 0
                            && f.getFileName().toString().startsWith(Trainer.stepCheckpointName(step) + ".")) {
                        existing.outputIn("--checkpoint-dir", checkpointDir, f.getFileName().toString());
                    }
                }
            }
        }
        existing.check();
    }

    /** Writes --log and --plot (--params-out is written with its state as the run finishes, Progress#finished). */
    private void writeOutputs(PrintWriter o, Model net, TrainConfig config, TrainResult r) throws IOException {
        List<EpochMetrics> curves = r.curves();
        if (log != null) {
            // the optimizer with its hyper-parameters (momentum, weight decay, betas, ε), not only its name
            Reports.train(new Reports.TrainSettings(net.spec(), train, test, config.optimizer().describe(), lr,
                    schedule, loss, batch, epochs, seed, dtype, standardize, config.batchNormTraining() ? "train"
                    : "frozen"), curves).write(log);
            o.println("wrote " + log);
        }
        if (plot != null) {
            int n = curves.size();
            double[] x = new double[n];
            double[] trainLoss = new double[n];
            double[] testLoss = new double[n];
            double[] testError = new double[n];
            for (int i = 0; i < n; i++) {
                x[i] = curves.get(i).epoch();
                trainLoss[i] = curves.get(i).trainLoss();
                testLoss[i] = curves.get(i).testLoss();
                testError[i] = 1 - curves.get(i).testAccuracy();
            }
            List<Charts.Series> s = new ArrayList<>();
            s.add(new Charts.Series("train loss", x, trainLoss));
            if (curves.stream().anyMatch(m -> Double.isFinite(m.testLoss()))) {
                s.add(new Charts.Series("test loss", x, testLoss));
                s.add(new Charts.Series("test error", x, testError));
            }
            Charts.lines(plot, net.spec() + ", " + optimizer + " lr " + lr + ", batch " + batch, "epoch",
                    "loss (" + loss + "), error", s);
            o.println("wrote " + plot);
        }
    }

    /**
     * A loss as the lines print it: four decimals, or four significant digits with an exponent from 10⁶ on
     * (a run near divergence has finite losses of 1e300, which {@code %.4f} wrote out in 300 digits).
     */
    static String lossText(double loss) {
        return String.format(Locale.ROOT, Math.abs(loss) < 1e6 ? "%.4f" : "%.4e", loss);
    }

    /**
     * Epoch lines on stdout (without a test set, no test figures, and no epoch-0 line, which has nothing else), a
     * bar (terminal) or a line every 10 s on stderr, checkpoint files.
     */
    private final class Progress implements Listener, AutoCloseable {
        private final PrintWriter out;
        private final PrintWriter err;
        private final boolean quiet;
        private final boolean terminal;
        private final boolean test;
        private final Map<String, String> run;
        private ProgressBar bar;
        private long lastLine = System.nanoTime();

        Progress(PrintWriter out, PrintWriter err, boolean quiet, boolean terminal, boolean test,
                Map<String, String> run) {
            this.out = out;
            this.err = err;
            this.quiet = quiet;
            this.terminal = terminal;
            this.test = test;
            this.run = run;
        }

        @Override
        public void stepDone(int epoch, long stepInEpoch, long stepsPerEpoch, double loss, double rate) {
            if (quiet) {
                return;
            }
            String msg = String.format(Locale.ROOT, "loss %s, %.0f examples/s", lossText(loss), rate);
            if (terminal) {
                if (bar == null) {
                    bar = new ProgressBarBuilder().setTaskName("epoch " + epoch).setInitialMax(stepsPerEpoch)
                            .setStyle(ProgressBarStyle.ASCII).setConsumer(new ConsoleProgressBarConsumer(System.err))
                            .setUpdateIntervalMillis(500).build();
                }
                bar.stepTo(stepInEpoch);
                bar.setExtraMessage(msg);
            } else if (System.nanoTime() - lastLine >= 10_000_000_000L) {
                lastLine = System.nanoTime();
                err.printf(Locale.ROOT, "ntk4j: epoch %d, step %d/%d, %s%n", epoch, stepInEpoch, stepsPerEpoch, msg);
                err.flush();
            }
        }

        @Override
        public void epochDone(int epoch, Params params, EpochMetrics m) {
            close();
            String testFigures = test ? String.format(Locale.ROOT, "test loss %s, test accuracy %.2f%%",
                    lossText(m.testLoss()), 100 * m.testAccuracy()) : null;
            if (epoch == 0) {
                if (testFigures == null) {
                    return;
                }
                out.printf(Locale.ROOT, "epoch 0: %s%n", testFigures);
            } else {
                out.printf(Locale.ROOT, "epoch %d: train loss %s, %s%.1f s, %.0f examples/s%n", epoch,
                        lossText(m.trainLoss()), testFigures == null ? "" : testFigures + ", ", m.seconds(),
                        m.examplesPerSecond());
            }
            out.flush();
        }

        @Override
        public void checkpoint(TrainState state, String name) throws IOException {
            Path p = Checkpoints.save(state, checkpointDir, name, run);
            if (!quiet) {
                err.println("ntk4j: checkpoint " + p + " (step " + state.step() + ")");
                err.flush();
            }
        }

        /**
         * --params-out: the final parameters and, beside them, their state and the run's record, written as a
         * checkpoint is (one piece of logic, Checkpoints.save), so that kernel and predict --params-in and study know
         * how they were trained; and a resume can continue from them, as from the last epoch's checkpoint.
         */
        @Override
        public void finished(TrainState state) throws IOException {
            if (paramsOut != null) {
                Checkpoints.save(state, paramsOut, run);
                out.println("wrote " + paramsOut);
                out.println("wrote " + Checkpoints.stateFile(paramsOut));
                out.flush();
            }
        }

        @Override
        public void close() {
            if (bar != null) {
                bar.close();
                bar = null;
            }
        }
    }
}
