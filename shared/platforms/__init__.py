"""Adapters to the platforms' own APIs, one module per outside system.

adf.py        Azure Data Factory through azure-mgmt-datafactory (pipeline runs, activity runs, createRun).
synapse.py    Synapse pipelines through their dev-endpoint REST API (same run shapes as ADF).
databricks.py Databricks Jobs / Clusters / Libraries through the official databricks-sdk.
airflow.py    Airflow's REST API (v1 for Airflow 2, v2 for Airflow 3).
common.py     What they share: credentials, the loopback policy, bounded retries, settings.

Extractors use them to fetch the exact error, the sweep to find unreported failures, and the
remediation stage to rerun (createRun with rerun-from-failure, repair run, clear task instances).
"""
