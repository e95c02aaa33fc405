package org.ntk4j.io;

/**
 * What a tiled kernel run ({@link TiledKernelRun}, {@code org.ntk4j.spark.SparkKernelJob}) does with what it finds
 * at its output OUT before it starts: the finished file itself, or the files of an unfinished run
 * ({@code OUT.partial}, {@code OUT.manifest}, {@link TileStore}). One value, not a pair of booleans, because the
 * choices exclude each other: a run cannot both continue the unfinished run and discard it.
 *
 * <p>The command line's options map onto it as {@code --resume} → {@link #RESUME} (with or without
 * {@code --overwrite}, which then only lets the command's other outputs be replaced), {@code --overwrite} alone →
 * {@link #OVERWRITE}, neither → {@link #REFUSE}. The refusals' messages name those options.
 */
public enum ExistingOutput {
    /**
     * Start a new run only where nothing is in the way: an existing OUT, or an unfinished run of it, is refused
     * (an {@link IllegalArgumentException} saying to pass {@code --resume} or {@code --overwrite}).
     */
    REFUSE,
    /**
     * Start a new run whatever is there: an unfinished run of OUT is discarded, and an existing OUT is replaced
     * when the run finishes (not before: a run that fails leaves it).
     */
    OVERWRITE,
    /**
     * Continue the unfinished run of OUT with its recorded tile grid and method: there must be one, of the same
     * model, parameters and inputs ({@link TileStore#resume}); refused otherwise.
     */
    RESUME
}
