/** torchvision's `FashionMNIST.classes`, in label order (browser-safe: weights entries name them). */
export const FASHION_MNIST_CLASSES: readonly string[] = Object.freeze(['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot']);
