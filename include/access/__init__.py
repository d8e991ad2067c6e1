"""Who may do what, in Airflow's FAB auth manager (``apache-airflow-providers-fab``).

    role              read DAGs/board   evidence files   trigger runs   answer approvals
    Launch Viewer     yes (no logs,     no (403)         no (403)       no (403)
                      no XComs)
    Launch Operator   yes               yes              yes            no (403)
    Launch Approver   yes               yes              no (403)*      only where assigned by name
    Admin             yes               yes              yes            only where assigned by name

    * except a launch's manual-rollback DAG (``Launch Manual Rollback``); the plan's role then decides.

``roles`` defines the roles as data, ``auth_manager`` the two rules FAB does not have (an approval
is answered by the user the plan names; approvers may start a manual rollback), ``sync`` creates
the roles and the demo users idempotently.
"""

AUTH_MANAGER = "include.access.auth_manager.LaunchFabAuthManager"  # [core] auth_manager, everywhere
