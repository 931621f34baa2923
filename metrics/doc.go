// Package metrics owns the Prometheus metrics of one Vaultaire node: a
// registry the node owns (never the process-global default), the Go
// runtime and process collectors, and the Vaultaire metrics, all named
// vaultaire_* in base units (seconds, bytes) with _total counters.
//
// The package imports nothing of ours. What it reports about the Engine,
// the drives and the metastore it learns through small snapshot structs
// (EngineStats, DriveStats, MetastoreStats) and the functions that fill
// them, which cmd/vaultaire adapts from node, drivers/local and metastore;
// S3 requests arrive as Request values from the s3 OnRequest hook.
//
// Cardinality is bounded by construction: object keys and containers are
// never labels; tenant label values are the first Config.MaxTenants
// distinct tenants seen, every later tenant is reported as "other", and an
// unauthenticated request is tenant "anonymous"; S3 error codes are a
// bounded set, capped the same way as a guard.
//
// Metrics (see also README "Observability"):
//
//	vaultaire_s3_requests_total{tenant,operation,status_class}
//	vaultaire_s3_request_duration_seconds{operation}            histogram
//	vaultaire_s3_bytes_in_total{tenant}, vaultaire_s3_bytes_out_total{tenant}
//	vaultaire_s3_requests_in_flight
//	vaultaire_s3_errors_total{operation,code}
//	vaultaire_s3_rate_limit_rejections_total{tenant}, vaultaire_s3_quota_rejections_total{tenant}
//	vaultaire_erasure_encodes_total, vaultaire_erasure_decodes_total
//	vaultaire_shards_bad_total
//	vaultaire_heal_shards_healed_total, vaultaire_heal_failures_total, vaultaire_heal_reports_dropped_total
//	vaultaire_scrub_shards_verified_total, vaultaire_scrub_shards_bad_total, vaultaire_scrub_passes_total,
//	vaultaire_scrub_errors_total, vaultaire_scrub_pass_progress_ratio, vaultaire_scrub_last_pass_completed_timestamp_seconds
//	vaultaire_gc_blobs_collected_total, vaultaire_shards_relocated_total,
//	vaultaire_shards_moved_total, vaultaire_shard_move_bytes_total, vaultaire_shards_misplaced_swept_total,
//	vaultaire_uploads_expired_total, vaultaire_shards_slow_total, vaultaire_shards_straggled_total
//	vaultaire_restripe_versions_total, vaultaire_restripe_bytes_total, vaultaire_restripe_failures_total,
//	vaultaire_restripe_passes_total, vaultaire_restripe_last_pass_pending_versions
//	vaultaire_lifecycle_expired_total, vaultaire_lifecycle_expired_bytes_total,
//	vaultaire_lifecycle_aborted_total, vaultaire_lifecycle_failures_total, vaultaire_lifecycle_locked_total,
//	vaultaire_lifecycle_transitioned_total, vaultaire_lifecycle_transitioned_bytes_total,
//	vaultaire_lifecycle_oldest_overdue_seconds
//	vaultaire_capacity_used_bytes, vaultaire_capacity_total_bytes, vaultaire_capacity_high_watermark_ratio,
//	vaultaire_capacity_low_watermark_ratio, vaultaire_capacity_spilling, vaultaire_capacity_transitioned_total,
//	vaultaire_capacity_transitioned_bytes_total, vaultaire_capacity_failures_total
//	vaultaire_drive_online{drive}, vaultaire_drive_capacity_bytes{drive},
//	vaultaire_drive_free_bytes{drive}, vaultaire_drive_io_errors_total{drive}
//	vaultaire_raft_state{state}, vaultaire_raft_has_leader, vaultaire_raft_term,
//	vaultaire_raft_commit_index, vaultaire_raft_applied_index,
//	vaultaire_raft_last_contact_seconds, vaultaire_raft_apply_duration_seconds (histogram)
//	vaultaire_metastore_disk_usage_bytes, vaultaire_metastore_compactions_total,
//	vaultaire_metastore_read_amplification, vaultaire_metastore_block_cache_bytes,
//	vaultaire_metastore_memtable_bytes
//	vaultaire_raft_log_syncs_total, vaultaire_raft_log_entries_total, vaultaire_raft_log_sync_seconds_total
package metrics
