# Prints the oracle of TrainerTest's batch-norm tests: dense(4) -> batch norm -> relu -> dense(3), standard
# parameterisation, from fixed parameters, 3 epochs in batches of 3 over 6 examples in Trainer.permutation(5, e, 6)'s
# order, float64. Frozen: the batch norm in eval() mode (its running statistics normalise, unchanged), SGD with
# momentum and weight decay. Train: the batch norm in train() mode from the same running statistics (momentum 0.1,
# PyTorch's default, updating them in place), Adam with weight decay; then the running statistics and the eval()
# loss and accuracy on the 6 examples.
import torch, torch.nn.functional as F
torch.set_default_dtype(torch.float64)
X = torch.tensor([[0.5,-1.0],[2.0,1.5],[0.25,-0.75],[-2.0,1.0],[0.3,0.7],[1.2,-0.4]])
Y = torch.tensor([0,2,1,2,0,1])
W1 = torch.tensor([[0.4,-0.3,0.2,0.5],[0.1,0.6,-0.5,0.3]])   # [in, out]
B1 = torch.tensor([0.05,-0.1,0.2,0.15])  # no zero: before a train() batch norm its gradient is 0 but for the decay, and Adam would amplify round-off
SC = torch.tensor([1.1,0.9,1.3,0.7]); SH = torch.tensor([0.1,-0.2,0.0,0.3])
W2 = torch.tensor([[0.3,-0.2,0.1],[0.5,0.4,-0.6],[-0.3,0.2,0.7],[0.2,-0.5,0.4]])
B2 = torch.tensor([0.0,0.1,-0.1])
RM = torch.tensor([0.2,-0.1,0.3,0.0]); RV = torch.tensor([1.5,0.5,2.0,0.8])
perms = [[5,2,4,0,1,3],[3,0,2,4,1,5],[3,5,1,0,4,2]]
def run(train_mode, opt_name):
    ps = [t.clone().requires_grad_(True) for t in (W1,B1,SC,SH,W2,B2)]
    if opt_name == 'sgd':
        opt = torch.optim.SGD(ps, lr=0.3, momentum=0.9, weight_decay=0.01)
    else:
        opt = torch.optim.Adam(ps, lr=0.05, betas=(0.9,0.999), eps=1e-8, weight_decay=0.01)
    rm = RM.clone(); rv = RV.clone()
    losses = []
    for e in range(3):
        tot = 0
        for s in range(2):
            idx = perms[e][3*s:3*s+3]
            x = X[idx]; y = Y[idx]
            h = x @ ps[0] + ps[1]
            if train_mode:
                h = F.batch_norm(h, rm, rv, ps[2], ps[3], training=True, momentum=0.1, eps=1e-5)
            else:
                h = F.batch_norm(h, RM, RV, ps[2], ps[3], training=False, eps=1e-5)
            f = torch.relu(h) @ ps[4] + ps[5]
            loss = F.cross_entropy(f, y) / 3
            opt.zero_grad(); loss.backward(); opt.step()
            tot += loss.item() * 3
        losses.append(tot / 6)
    for p in ps:
        print(repr(p.detach().flatten().tolist()))
    print('losses', repr(losses))
    if train_mode:
        print('running_mean', repr(rm.tolist()))
        print('running_var', repr(rv.tolist()))
        with torch.no_grad():
            h = F.batch_norm(X @ ps[0] + ps[1], rm, rv, ps[2], ps[3], training=False, eps=1e-5)
            f = torch.relu(h) @ ps[4] + ps[5]
            print('eval loss', repr((F.cross_entropy(f, Y) / 3).item()), 'accuracy',
                  repr((f.argmax(1) == Y).double().mean().item()))
print('eval-mode BN, SGD'); run(False, 'sgd')
print('train-mode BN, Adam'); run(True, 'adam')
