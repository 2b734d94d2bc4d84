"""Reading results: metrics, statistics, leaderboards (tables and the HTML page), figures, reports and
submissions. Everything here reads only what the harness wrote."""
