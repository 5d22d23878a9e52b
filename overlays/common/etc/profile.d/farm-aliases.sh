# farm: shortcuts for the cluster's admin (NODE-SPEC.md, "Tools on the node").
alias kubectl='sudo k3s kubectl'
alias kpods='kubectl get pods -A -o wide'
alias kwpods='watch sudo k3s kubectl get pods -A -o wide'
alias knodes='kubectl get nodes -o wide'
# Hold off the scheduled shutdown while you work, and release it.
alias klogin='sudo farm-node lock'
alias klogout='sudo farm-node unlock; logout'
# Power the cluster off now, gracefully.
alias koff='sudo systemctl start farm-shutdown.service'
