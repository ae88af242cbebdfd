"""queries.py - the PromQL promdiff sends to Prometheus 2.42 and to flint.

QUERIES are expressions of the kind dashboards and alert rules use, written
so that Prometheus 2 and 3 semantics agree on promdiff's data (evaluation
times 7 s off the sample grid, so left-open (3.x) and left-closed (2.x) range
windows select the same samples). "{AT}" is replaced by a unix time for `@`.

EXPECTED_DIFFS are queries where Prometheus 2.42 and flint (Prometheus 3
semantics) must NOT agree, each with the reason; promdiff evaluates them at
times ON the sample grid and passes when the answers differ the way the
reason says (so flint really implements the 3.x rule). Keep the reason
accurate: docs/testing.md ("promdiff") points here.
"""

QUERIES = [
    # --- selectors, counters -------------------------------------------------
    'up',
    'up == 1',
    'node_load1',
    'node_cpu_seconds_total{mode="idle",cpu="0"}',
    'http_requests_total{handler="/api/orders",code=~"5.."}',
    'http_requests_total{handler!~"/api/.*",method="POST"}',
    'rate(http_requests_total[5m])',
    'irate(http_requests_total[5m])',
    'increase(http_requests_total[1h])',
    'rate(node_cpu_seconds_total{mode!="idle"}[5m])',
    'rate(node_network_receive_bytes_total[1m])',
    'irate(node_network_transmit_packets_total[2m])',
    'increase(node_context_switches_total[10m])',
    'resets(http_requests_total[3h])',
    'changes(node_boot_time_seconds[3h])',
    'rate(http_requests_total{instance="app-2:8080",handler="/api/orders",method="GET",code="200"}[15m])',
    # --- aggregations ----------------------------------------------------------
    'sum(rate(http_requests_total[5m]))',
    'sum by (handler) (rate(http_requests_total[5m]))',
    'sum by (code) (increase(http_requests_total[30m]))',
    'sum without (method, code) (rate(http_requests_total[5m]))',
    'sum by (instance) (rate(node_cpu_seconds_total{mode!="idle"}[5m]))',
    'avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))',
    '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m])))',
    'count(up)',
    'count by (job) (up)',
    'count(node_cpu_seconds_total{mode="idle"}) by (instance)',
    'min by (instance) (node_hwmon_temp_celsius)',
    'max by (instance) (node_hwmon_temp_celsius)',
    'max(node_filesystem_avail_bytes) by (mountpoint)',
    'avg(node_load5)',
    'stddev(node_hwmon_temp_celsius)',
    'stdvar by (instance) (node_hwmon_temp_celsius)',
    'quantile(0.9, rate(http_requests_total[5m]))',
    'quantile by (instance) (0.5, node_hwmon_temp_celsius)',
    'group by (instance, version) (app_version_info)',
    'count_values("version", node_exporter_build_info)',
    'topk(3, rate(node_network_receive_bytes_total[5m]))',
    'topk(2, sum by (handler) (rate(http_requests_total[5m])))',
    'bottomk(2, node_filesystem_avail_bytes)',
    'bottomk(1, sum by (instance) (rate(http_requests_total[5m])))',
    'sort_desc(sum by (handler) (rate(http_requests_total[5m])))',
    'sort(node_memory_MemAvailable_bytes)',
    # --- ratios, error budgets ---------------------------------------------------
    'sum by (handler) (rate(http_requests_total{code=~"5.."}[5m])) / sum by (handler) (rate(http_requests_total[5m]))',
    'sum(rate(http_requests_total{code="500"}[5m])) / sum(rate(http_requests_total[5m])) > 0.02',
    'sum by (instance, handler) (rate(http_requests_total{code!~"5.."}[30m])) / ignoring(code) group_left sum by (instance, handler) (rate(http_requests_total[30m]))',
    '1 - sum(increase(http_requests_total{code=~"5.."}[1h])) / sum(increase(http_requests_total[1h]))',
    'node_filesystem_avail_bytes / node_filesystem_size_bytes * 100',
    '(node_filesystem_avail_bytes / node_filesystem_size_bytes * 100) < 80',
    '100 * (1 - node_memory_MemAvailable_bytes / node_memory_MemTotal_bytes)',
    'node_memory_MemAvailable_bytes / on(instance) node_memory_MemTotal_bytes',
    'rate(node_cpu_seconds_total[5m]) * on(instance) group_left(release) node_uname_info',
    'rate(http_requests_total[5m]) * on(instance) group_left(version) app_version_info',
    'sum by (instance) (rate(http_requests_total[5m])) / on(instance) group_left sum by (instance) (http_inflight_requests)',
    'node_network_up * on(instance, device) group_right node_network_mtu_bytes',
    'node_filesystem_size_bytes - ignoring(fstype) node_filesystem_free_bytes',
    # --- comparisons ---------------------------------------------------------------
    'node_hwmon_temp_celsius > 50',
    'node_hwmon_temp_celsius > bool 50',
    'rate(http_requests_total[5m]) > 1',
    'rate(http_requests_total[5m]) >= bool 1',
    'node_load1 < 1',
    'node_load1 != bool node_load5',
    'up == bool 1',
    'sum by (handler) (rate(http_requests_total{code="500"}[5m])) > 0.1',
    '100 * (1 - avg by (instance) (rate(node_cpu_seconds_total{mode="idle"}[5m]))) < -10',
    'node_timex_offset_seconds > 0.0002 or node_timex_offset_seconds < -0.0002',
    # --- histograms -------------------------------------------------------------------
    'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
    'histogram_quantile(0.9, sum by (le, handler) (rate(http_request_duration_seconds_bucket[5m])))',
    'histogram_quantile(0.5, sum by (le, instance) (rate(http_request_duration_seconds_bucket[10m])))',
    'histogram_quantile(0.95, rate(http_request_duration_seconds_bucket{handler="/api/orders"}[5m]))',
    'histogram_quantile(0.99, sum by (le) (increase(http_request_duration_seconds_bucket[1h])))',
    'sum by (handler) (rate(http_request_duration_seconds_sum[5m])) / sum by (handler) (rate(http_request_duration_seconds_count[5m]))',
    'sum(rate(http_request_duration_seconds_bucket{le="0.25"}[5m])) by (handler) / sum(rate(http_request_duration_seconds_count[5m])) by (handler)',
    # --- *_over_time ---------------------------------------------------------------
    'avg_over_time(node_load1[10m])',
    'max_over_time(node_hwmon_temp_celsius[30m])',
    'min_over_time(node_memory_MemFree_bytes[1h])',
    'sum_over_time(http_inflight_requests[5m])',
    'count_over_time(up[10m])',
    'quantile_over_time(0.95, node_load1[30m])',
    'stddev_over_time(node_hwmon_temp_celsius[15m])',
    'stdvar_over_time(node_load5[15m])',
    'last_over_time(node_boot_time_seconds[10m])',
    'present_over_time(http_inflight_requests[5m])',
    'absent_over_time(nonexistent_metric[5m])',
    'avg_over_time(up[1h]) < 1',
    # --- gauges: derivatives and prediction ------------------------------------------
    'deriv(node_filesystem_avail_bytes[30m])',
    'predict_linear(node_filesystem_avail_bytes[1h], 4 * 3600)',
    'predict_linear(node_filesystem_avail_bytes{mountpoint="/"}[30m], 86400) < 5e10',
    'delta(node_hwmon_temp_celsius[10m])',
    'idelta(node_load1[5m])',
    # --- offset and @ -------------------------------------------------------------------
    'rate(http_requests_total[5m] offset 30m)',
    'sum(rate(http_requests_total[5m])) - sum(rate(http_requests_total[5m] offset 1h))',
    'node_load1 offset 5m',
    'rate(http_requests_total{code="500"}[5m] @ {AT})',
    'node_load15 @ {AT}',
    'sum by (handler) (rate(http_requests_total[5m] @ {AT} offset 10m))',
    'max_over_time(node_load1[10m] @ {AT})',
    # --- label functions -------------------------------------------------------------------
    'label_replace(up, "host", "$1", "instance", "(.*):.*")',
    'label_replace(rate(http_requests_total[5m]), "api", "yes", "handler", "/api/.*")',
    'label_join(node_uname_info, "id", "/", "sysname", "release", "machine")',
    'sum by (host) (label_replace(node_load1, "host", "$1", "instance", "([^:]+):.*"))',
    # --- absent, set operators ------------------------------------------------------------
    'absent(nonexistent_metric{job="missing"})',
    'absent(up{job="node"})',
    'absent(http_inflight_requests{instance="app-2:8080"})',
    'rate(http_requests_total[5m]) unless on(instance) http_inflight_requests',
    'rate(http_requests_total[5m]) and on(instance) http_inflight_requests',
    'up == 0 or node_load1 > 1',
    'node_network_up and node_network_mtu_bytes > 1500',
    'sum by (handler) (rate(http_requests_total{code="500"}[5m])) or sum by (handler) (rate(http_requests_total{code="404"}[5m]))',
    # --- math -------------------------------------------------------------------------------
    'clamp(node_load1, 0.2, 0.8)',
    'clamp_min(rate(http_requests_total[5m]), 1)',
    'clamp_max(node_hwmon_temp_celsius, 45)',
    'round(node_hwmon_temp_celsius)',
    'round(rate(http_requests_total[5m]), 0.1)',
    'ceil(node_load1 * 10)',
    'floor(node_load5 * 10)',
    'abs(deriv(node_load1[10m]))',
    'sqrt(node_load15)',
    'ln(node_memory_MemTotal_bytes)',
    'log2(node_network_speed_bytes)',
    'exp(node_load1)',
    '-node_load1 % 0.3',
    '2 ^ node_procs_running',
    'sgn(deriv(node_memory_MemFree_bytes[5m]))',
    'time() - node_boot_time_seconds',
    'timestamp(node_load1)',
    'vector(time())',
    'scalar(sum(up))',
    'vector(1) + scalar(count(up))',
    'minute(vector(time()))',
    'hour(timestamp(up))',
    'day_of_week()',
    'days_in_month(vector(time()))',
    '1 + 2 * 3',
    # --- subqueries ---------------------------------------------------------------------------
    'max_over_time(rate(http_requests_total[5m])[30m:1m])',
    'avg_over_time(sum by (handler) (rate(http_requests_total[5m]))[1h:5m])',
    'max_over_time(node_load1[30m:1m])',
    'min_over_time(sum by (instance) (http_inflight_requests)[20m:2m])',
    'quantile_over_time(0.9, histogram_quantile(0.9, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))[30m:1m])',
    'rate(sum by (handler) (http_requests_total)[10m:1m])',
    'deriv(avg(node_load1)[15m:1m])',
    # --- name selectors, name dropping, @ start()/end() -----------------------------------
    '{__name__=~"node_load.*"}',
    'sum by (__name__) ({__name__=~"node_load.*"} offset 1h)',
    'node_load1 + 0',
    'abs(-node_load1)',
    'topk by (instance) (1, rate(node_cpu_seconds_total{mode="user"}[5m]))',
    'scalar(node_load1)',
    'rate(http_requests_total{code="500"}[5m] @ end())',
    'sum(node_load1 @ start())',
    'sum by (handler) (rate(http_requests_total[5m])) > bool 1',
    # --- edge cases of functions ------------------------------------------------------------
    'quantile(1.5, node_load1)',
    'histogram_quantile(1.5, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
    'histogram_quantile(0, sum by (le) (rate(http_request_duration_seconds_bucket[5m])))',
    'round(-2.5 + 0 * node_load1)',
    'clamp(node_load1, 1, 0)',
    'count_values("load", round(node_load1))',
    'max_over_time(sum(node_load1)[30m:])',
    'timestamp(node_load1 offset 1m)',
    'deg(node_load1) - rad(node_load5)',
    'vector(1) and on() node_load1 > 100',
    # --- errors both must refuse the same way ---------------------------------------------
    'rate(http_requests_total[5m]) / on(instance) http_inflight_requests',
    'label_replace(up, "instance", "", "instance", ".*")',
    'sum(rate(http_requests_total[5m])',
    'rate(node_load1)',
    'foo{',
]

# Queries whose answer is empty on this data at every time (they check that
# both sides agree on "nothing"); any other empty query fails promdiff.
EMPTY_ON_PURPOSE = {
    'clamp(node_load1, 1, 0)',
    'vector(1) and on() node_load1 > 100',
    'absent(up{job="node"})',
    'absent(http_inflight_requests{instance="app-2:8080"})',
}

# (query, t_differ, t_agree, reason): times in seconds after the first sample
# of the dataset. At t_differ Prometheus 2.42 and flint must answer
# differently (both successfully, flint non-empty); at t_agree they must agree.
EXPECTED_DIFFS = [
    ('count_over_time(node_load1[1m])', 5400, 5407,
     'range selectors are left-open in Prometheus 3: a window ending on a sample '
     'excludes the sample at its start (4 samples at 15 s; Prometheus 2 counts 5)'),
    ('rate(node_network_receive_bytes_total[1m])', 5400, 5407,
     'left-open range windows (Prometheus 3): one sample fewer at the window start '
     'changes the extrapolated rate'),
    ('sum_over_time(http_inflight_requests[1m])', 5405, 5407,
     'left-open range windows on the grid of the http data (5 s past the node '
     'grid): 4 samples summed in 3.x, 5 in 2.42'),
    ('increase(http_request_duration_seconds_bucket{instance="app-1:8080",handler="/api/users",le="+Inf"}[1h])',
     1807, 3607,
     'rate extrapolation towards a counter\'s zero point (Prometheus PR #13725, 2.51): '
     'when a window reaches past the first sample of a series, 2.42 limits the '
     'extrapolation by the zero point measured from the window start, 3.x first cuts it '
     'to half a sample interval and then to the zero point, so 2.42 extrapolates further. '
     'The main queries therefore start their range at 1 h into the data.'),
]
