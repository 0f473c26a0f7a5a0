package llava.core;

/** Reductions. SUM and MEAN of half types accumulate in F32. */
public enum ReduceOp { SUM, MEAN, MAX, MIN }
