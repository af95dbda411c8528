"""Who may spend what: the limiter interfaces, admission headers and failure policy, token budgets
(reserve, settle, and the ledger behind them), usage records, and their Worker bindings."""
