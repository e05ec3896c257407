"""One remediation executor per platform, behind remediation.executors.base.Executor."""
