"""Reports built from result records only: confusion matrices, tables, leaderboard, plots."""
