package org.ntk4j.examples;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.ntk4j.io.Npy;
import org.ntk4j.io.RunFingerprint;
import org.ntk4j.io.TileStore;
import org.ntk4j.nn.Model;
import org.ntk4j.nn.Params;
import org.ntk4j.nn.Zoo;
import org.ntk4j.ntk.EmpiricalNtk;
import org.ntk4j.ntk.KernelKind;
import org.ntk4j.ntk.TilePlan;
import org.ntk4j.ntk.TilePlanner;
import org.ntk4j.ntk.TiledKernel;
import org.ntk4j.tensor.DType;
import org.ntk4j.tensor.Tensor;

/**
 * A kernel larger than the memory you give it, written tile by tile straight into its {@code .npy} file — what
 * {@code ntk4j kernel --memory} does. {@link TilePlanner} chooses a method and a tile size that fit the budget;
 * {@link TiledKernel} computes the tiles (each the block of the whole kernel, to rounding); {@link TileStore}
 * maps them into the final file and keeps a manifest, so a run that dies can be resumed
 * ({@link TileStore#resume}) without recomputing a finished tile.
 *
 * <p>Here the budget is made small on purpose so that a small kernel is tiled; the example then reads the file
 * back and compares it with the kernel computed in one piece.
 *
 * <p>Run: {@code ntk4j-examples/run TiledKernelToFile [N] [OUT.npy] [--overwrite]} (defaults 200 and a temporary
 * file). An existing OUT is refused unless {@code --overwrite} is given; missing directories are created.
 */
public final class TiledKernelToFile {
    /** The command line (see {@link ExampleArgs}). */
    static final String USAGE = "TiledKernelToFile [N] [OUT.npy] [--overwrite]";

    private TiledKernelToFile() {
    }

    /**
     * Plans, computes and writes the tiles, then checks the file.
     *
     * @param args optional: number of examples, output file, {@code --overwrite}
     * @throws Exception only on a bug: bad arguments and I/O errors end in one line on stderr and exit code 2
     */
    public static void main(String[] args) throws Exception {
        ExampleArgs.main(USAGE, args, TiledKernelToFile::run);
    }

    static void run(ExampleArgs args) throws IOException {
        int n = args.positive(0, 200);
        Path out;
        if (args.given(1)) {
            out = Path.of(args.text(1, null));
            if (out.getFileName() == null || !out.getFileName().toString().endsWith(".npy")) {
                throw new IllegalArgumentException("OUT.npy must end in .npy, got '" + out + "'");
            }
            args.newFile(out);   // a file of yours is replaced only with --overwrite
            Files.createDirectories(out.toAbsolutePath().getParent());
        } else {
            out = Files.createTempDirectory("ntk4j-tiles").resolve("k.npy");
        }
        int[] example = {64};

        Model model = Zoo.parse("fcn(depth=2,width=128,out=10,act=erf)");
        KernelKind kind = KernelKind.trace();   // the N×N trace kernel, as --kind trace
        try (Params params = model.init(3, example, DType.F64);
             Tensor x = Tensor.randomNormal(DType.F64, 9, n, example[0])) {
            EmpiricalNtk ntk = EmpiricalNtk.of(model, params);

            // The plan: tiles of 48 examples (rounded up to a multiple of 16), two at a time, in a 64 MiB budget.
            // With tile(0) (the default) the planner takes the largest tile that fits the budget instead.
            TilePlan plan = TilePlanner.of(ntk, kind).budget(64L << 20).tile(48).workers(2)
                    .plan(n, 0, example, DType.F64);   // n2 = 0: x2 = x1, only tiles on and above the diagonal
            System.out.println(plan.describe());

            // The fingerprint names the model, parameters and data: resuming against another run is an error.
            String fingerprint = RunFingerprint.of(model.spec(), params, x, null);
            long start = System.nanoTime();
            try (TileStore store = TileStore.create(out, plan, fingerprint)) {
                // Each finished block goes to the store (store::write is thread-safe). finishedTiles() is empty
                // for a new store; after TileStore.resume it lists the tiles to skip. The last argument, a
                // TiledKernel.Listener, could report progress (it is called from the worker threads).
                TiledKernel tiles = new TiledKernel(ntk, plan, x, null);
                tiles.run(store.finishedTiles(), store::write, null);
                System.out.println("computed " + tiles.tilesComputed() + " tiles");
                store.finish();   // checks every tile's checksum, then renames OUT.partial to OUT
            }
            System.out.printf(Locale.ROOT, "wrote %s (%,d bytes) in %.2f s%n", out.getFileName(), Files.size(out),
                    (System.nanoTime() - start) / 1e9);

            // The file is an ordinary .npy (numpy.load reads it). Compare it with the kernel in one piece.
            try (Tensor tiled = Npy.readTensor(out);
                 Tensor whole = ntk.method(plan.method()).kernel(kind, x, null)) {
                System.out.printf(Locale.ROOT, "file %s, max relative difference to the in-memory kernel %.1e%n",
                        java.util.Arrays.toString(tiled.shape()), ThreeMethods.maxRelativeDifference(tiled, whole));
            }
        }
    }
}
