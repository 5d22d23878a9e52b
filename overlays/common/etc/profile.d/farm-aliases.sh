# farm: shortcuts for the cluster's admin (NODE-SPEC.md, "Tools on the node").
alias kubectl='sudo k3s kubectl'
alias kpods='kubectl get pods -A -o wide'
alias kwpods='watch sudo k3s kubectl get pods -A -o wide'
alias knodes='kubectl get nodes -o wide'
# Hold off the scheduled shutdown while you work (a lock of its own, for 12
# hours, beside the one your SSH login holds), and release it.
alias klogin='sudo farm-node lock --for 12h'
alias klogout='sudo farm-node unlock; logout'
# This node's graceful shutdown now, as the daily timer starts it: your own
# locks are released first (anyone else's still hold it off). On the
# control plane it scales the cluster's workloads down first; a worker
# goes once the control plane has released its shutdown lock, so run koff
# on each worker too (or let their timers fire) for the whole cluster.
alias koff='sudo farm-node unlock --manual --session "${FARM_LOCK_SESSION:-}" && sudo systemctl start farm-shutdown.service'
